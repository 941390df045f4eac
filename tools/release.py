"""Release one mg distribution: everything but the upload.

    python tools/release.py mg-adapters 0.1.1 [--out dist/release]

Run through ``nox -s release -- mg-adapters 0.1.1`` (which provides twine). In order, and
stopping at the first failure with a message that names the fix:

1. the working tree is clean and the tag ``mg-adapters-v0.1.1`` does not exist yet;
2. the version is not below the current one, and ``## 0.1.1`` in the CHANGELOG has text;
3. the version is written to the distribution's ``pyproject.toml`` and ``uv.lock`` (when it
   equals the current version, the bump was made by hand and merged: nothing to write);
4. every sibling range still admits it, and all bounds follow the policy (``nox -s bounds``);
5. the sdist is built, then the wheel from the sdist; both are checked (metadata, long
   description renders with ``twine check --strict``, ``py.typed``, shipped data);
6. the bump is committed, and the commit tagged ``mg-adapters-v0.1.1``.

Upload is left to a person: ``uv publish <out>/*`` after pushing the commit and the tag.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from packaging.version import InvalidVersion, Version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workspace import (
    PACKAGES,
    ROOT,
    bound_problems,
    changelog_entry,
    sdist_problems,
    version,
    wheel_problems,
)


class ReleaseError(Exception):
    """A release step found a problem; the message says what to fix."""


def _git(*args: str, root: Path) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if done.returncode:
        raise ReleaseError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def tag_name(package: str, release: Version) -> str:
    """The git tag a release of ``package`` gets.

    Args:
        package (str): Distribution name, e.g. ``"mg-adapters"``.
        release (Version): The released version.

    Returns:
        str: e.g. ``"mg-adapters-v0.1.1"``.
    """
    return f"{package}-v{release}"


def preflight(package: str, release: Version, root: Path) -> None:
    """Checks that need no build: clean tree, new tag, higher version, CHANGELOG entry.

    Args:
        package (str): Distribution to release.
        release (Version): Version to release.
        root (Path): Repository root.

    Raises:
        ReleaseError: On the first problem, naming the fix.
    """
    if package not in PACKAGES:
        raise ReleaseError(f"unknown distribution {package!r}: choose one of {PACKAGES}")
    dirty = _git("status", "--porcelain", "--untracked-files=no", root=root)
    if dirty:
        raise ReleaseError(f"the working tree has uncommitted changes; commit them first:\n{dirty}")
    tag = tag_name(package, release)
    if _git("tag", "--list", tag, root=root):
        raise ReleaseError(f"tag {tag} already exists: pick the next version")
    current = version(package, root)
    if release < current:
        raise ReleaseError(
            f"{package} is already at {current}; a release cannot go back to {release}"
        )
    if not changelog_entry(package, release, root):
        raise ReleaseError(
            f"packages/{package}/CHANGELOG.md has no '## {release}' entry with text: "
            f"write what changed (and any raised lower bound, with its reason) first"
        )


def bump(package: str, release: Version, root: Path) -> None:
    """Write ``release`` into the distribution's ``pyproject.toml`` and ``uv.lock``.

    Args:
        package (str): Distribution to bump.
        release (Version): New version.
        root (Path): Repository root.

    Raises:
        ReleaseError: When the version line or the lock entry is not found.
    """
    path = root / "packages" / package / "pyproject.toml"
    text = path.read_text()
    bumped, count = re.subn(
        r'^version = "[^"]+"$', f'version = "{release}"', text, count=1, flags=re.M
    )
    if not count:
        raise ReleaseError(f'{path}: no line `version = "..."` to bump')
    path.write_text(bumped)
    lock = root / "uv.lock"
    # The lock names each workspace member's version; keep it in step so `--locked` holds.
    entry = rf'(\[\[package\]\]\nname = "{re.escape(package)}"\nversion = )"[^"]+"'
    locked, count = re.subn(entry, rf'\g<1>"{release}"', lock.read_text(), count=1)
    if not count:
        raise ReleaseError(f"uv.lock has no entry for {package}: run `uv lock` and commit it")
    lock.write_text(locked)


def build(package: str, root: Path, out: Path) -> tuple[Path, Path]:
    """Build the sdist, then the wheel from that sdist (so the sdist is proven complete).

    Args:
        package (str): Distribution to build.
        root (Path): Repository root.
        out (Path): Folder for the two files; emptied of this distribution's old builds.

    Returns:
        tuple[Path, Path]: The wheel and the sdist.

    Raises:
        ReleaseError: When uv fails or does not produce exactly one of each.
    """
    out.mkdir(parents=True, exist_ok=True)
    stem = package.replace("-", "_")
    for old in [*out.glob(f"{stem}-*.whl"), *out.glob(f"{stem}-*.tar.gz")]:
        old.unlink()
    done = subprocess.run(
        ["uv", "build", "--package", package, "--out-dir", str(out)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise ReleaseError(f"uv build --package {package} failed:\n{done.stderr}")
    wheels = list(out.glob(f"{stem}-*.whl"))
    sdists = list(out.glob(f"{stem}-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        raise ReleaseError(f"expected one wheel and one sdist in {out}, found {wheels + sdists}")
    return wheels[0], sdists[0]


def readme_problems(package: str, root: Path) -> list[str]:
    """Render the README as PyPI will, and find links that would break there.

    Args:
        package (str): Distribution whose README.md is its long description.
        root (Path): Repository root.

    Returns:
        list[str]: One line per problem; empty when the README renders and links hold.
    """
    from readme_renderer.markdown import render

    path = root / "packages" / package / "README.md"
    text = path.read_text()
    problems = []
    html = render(text, variant="GFM")
    if not html or not html.strip():
        problems.append(f"{path}: renders to nothing (is readme-renderer[md] installed?)")
    # PyPI shows the README outside the repository: a relative link there leads nowhere.
    for target in re.findall(r"\]\(([^)\s]+)", text):
        if not re.match(r"(https?:|mailto:|#)", target):
            problems.append(
                f"{path}: link {target!r} is relative and breaks on PyPI: use a full URL"
            )
    return problems


def check(package: str, wheel: Path, sdist: Path, root: Path) -> None:
    """Check both files' contents and metadata, and that the long description renders.

    Args:
        package (str): Distribution they hold.
        wheel (Path): The wheel.
        sdist (Path): The sdist.
        root (Path): Repository root they were built from.

    Raises:
        ReleaseError: Listing every problem found.
    """
    problems = wheel_problems(wheel, package, root) + sdist_problems(sdist, package, root)
    problems += readme_problems(package, root)
    # twine renders the README the way PyPI will; --strict turns its warnings into failures.
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        problems.append(f"twine check --strict failed:\n{done.stdout}{done.stderr}")
    if problems:
        raise ReleaseError("\n".join(problems))


def release(package: str, new_version: str, root: Path = ROOT, out: Path | None = None) -> str:
    """Run every release step but the upload.

    Args:
        package (str): Distribution to release, e.g. ``"mg-adapters"``.
        new_version (str): Version to release, e.g. ``"0.1.1"``.
        root (Path): Repository root (a clean git checkout).
        out (Path | None): Folder for the wheel and sdist; ``dist/release`` under ``root``
            by default.

    Returns:
        str: The tag created.

    Raises:
        ReleaseError: On the first failed step, naming the fix.
    """
    try:
        target = Version(new_version)
    except InvalidVersion:
        raise ReleaseError(f"{new_version!r} is not a version (write e.g. 0.1.1)") from None
    out = out or root / "dist" / "release"
    preflight(package, target, root)
    bumped = [f"packages/{package}/pyproject.toml", "uv.lock"]
    # Equal to the current version: the bump was made by hand (with the siblings' new
    # ranges, for a breaking release) and merged; only the checks and the tag remain.
    needs_bump = target != version(package, root)
    try:
        if needs_bump:
            bump(package, target, root)
        problems = bound_problems(root)
        if problems:
            raise ReleaseError(f"{package} {target} breaks the bounds:\n" + "\n".join(problems))
        wheel, sdist = build(package, root, out)
        check(package, wheel, sdist, root)
    except ReleaseError:
        # A failed release leaves the tree as it found it (preflight proved it clean).
        _git("checkout", "--", *bumped, root=root)
        raise
    tag = tag_name(package, target)
    if needs_bump:
        _git("add", *bumped, root=root)
        _git("commit", "--quiet", "-m", f"{package} {target}", root=root)
    _git("tag", "--annotate", tag, "--message", f"{package} {target}", root=root)
    print(f"{package} {target}: checked {wheel.name} and {sdist.name} in {out}; tagged {tag}.")
    print(f"To publish: git push origin HEAD {tag} && uv publish {wheel} {sdist}")
    return tag


def main(argv: list[str] | None = None) -> int:
    """Command line entry: ``release.py PACKAGE VERSION [--out DIR]``.

    Args:
        argv (list[str] | None): Arguments; ``sys.argv[1:]`` when None.

    Returns:
        int: Exit status, 0 on success.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", choices=PACKAGES)
    parser.add_argument("version")
    parser.add_argument("--out", type=Path, default=None, help="where the files go")
    args = parser.parse_args(argv)
    try:
        release(args.package, args.version, ROOT, args.out)
    except ReleaseError as error:
        print(f"release stopped: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

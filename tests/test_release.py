"""The release flow for one distribution, and the bounds checks it relies on.

The release tests run on a throwaway clone of this repository (its committed HEAD), so
they tag and commit nothing here. They build offline (``UV_OFFLINE=1``): the build backend
comes from uv's cache, filled by the ``uv sync`` that set up this environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from workspace import (  # noqa: E402
    PACKAGES,
    bound_problems,
    export_release,
    lowest_sibling,
    read_lowest_record,
    stale_lowest,
    version,
    wheel_problems,
    write_lowest_record,
)

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "mg release test",
    "GIT_AUTHOR_EMAIL": "release-test@example.invalid",
    "GIT_COMMITTER_NAME": "mg release test",
    "GIT_COMMITTER_EMAIL": "release-test@example.invalid",
}


def _env() -> dict[str, str]:
    # This interpreter's folder first, so nox and tools/release.py find twine and packaging.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, **GIT_IDENTITY, "PATH": path, "UV_OFFLINE": "1"}


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=_env(), capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A fresh clone of this repository's HEAD, safe to bump, commit and tag in."""
    target = tmp_path / "mg"
    _git("clone", "--quiet", str(ROOT), str(target), cwd=tmp_path)
    return target


def _add_changelog_entry(clone: Path, package: str, release: str) -> None:
    path = clone / "packages" / package / "CHANGELOG.md"
    title, _, rest = path.read_text().partition("\n")
    path.write_text(f"{title}\n\n## {release}\n- Fix a bug a user reported.\n{rest}")
    _git("commit", "--quiet", "-am", f"{package}: changelog for {release}", cwd=clone)


def _next_patch(package: str) -> str:
    current = version(package)
    return f"{current.major}.{current.minor}.{current.micro + 1}"


def _release_script(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "tools/release.py", *args],
        cwd=clone,
        env=_env(),
        capture_output=True,
        text=True,
    )


def test_release_session_builds_checks_and_tags_one_bumped_distribution(clone: Path) -> None:
    release = _next_patch("mg-adapters")
    _add_changelog_entry(clone, "mg-adapters", release)
    before = {p: _git("rev-parse", f"HEAD:packages/{p}", cwd=clone) for p in PACKAGES}

    nox = [sys.executable, "-m", "nox", "--no-venv", "--no-install", "-s", "release"]
    done = subprocess.run(
        [*nox, "--", "mg-adapters", release],
        cwd=clone,
        env=_env(),
        capture_output=True,
        text=True,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    out = clone / "dist" / "release"
    wheel = out / f"mg_adapters-{release}-py3-none-any.whl"
    sdist = out / f"mg_adapters-{release}.tar.gz"
    assert sorted([*out.glob("*.whl"), *out.glob("*.tar.gz")]) == sorted([wheel, sdist])
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"mg_adapters-{release}.dist-info/METADATA").decode()
        assert "mg/adapters/py.typed" in archive.namelist()
    assert f"Version: {release}\n" in metadata
    assert "Requires-Python: >=3.11\n" in metadata
    with tarfile.open(sdist) as archive:
        pkg_info = archive.extractfile(f"mg_adapters-{release}/PKG-INFO")
        assert pkg_info is not None
        assert f"Version: {release}\n" in pkg_info.read().decode()
    # The tag names this distribution and version and points at the bump commit.
    tag = f"mg-adapters-v{release}"
    assert _git("tag", "--list", "mg-*", cwd=clone) == tag
    assert _git("rev-parse", f"{tag}^{{commit}}", cwd=clone) == _git("rev-parse", "HEAD", cwd=clone)
    assert f'version = "{release}"' in _git(
        "show", "HEAD:packages/mg-adapters/pyproject.toml", cwd=clone
    )
    assert f'name = "mg-adapters"\nversion = "{release}"' in _git("show", "HEAD:uv.lock", cwd=clone)
    # Only mg-adapters moved: the other four distributions are exactly as they were.
    after = {p: _git("rev-parse", f"HEAD:packages/{p}", cwd=clone) for p in PACKAGES}
    assert {p for p in PACKAGES if before[p] != after[p]} == {"mg-adapters"}
    assert _git("status", "--porcelain", cwd=clone) == ""


def test_release_of_the_current_version_tags_head_without_a_new_commit(clone: Path) -> None:
    # A bump made by hand and merged (as a breaking release needs, with the siblings'
    # ranges in the same commit): the release checks, builds and tags; nothing to commit.
    current = str(version("mg-core"))
    head = _git("rev-parse", "HEAD", cwd=clone)

    done = _release_script(clone, "mg-core", current)

    assert done.returncode == 0, done.stderr
    assert _git("rev-parse", "HEAD", cwd=clone) == head
    assert _git("rev-parse", f"mg-core-v{current}^{{commit}}", cwd=clone) == head
    assert (clone / "dist" / "release" / f"mg_core-{current}-py3-none-any.whl").is_file()


def test_release_without_changelog_entry_stops_before_changing_anything(clone: Path) -> None:
    release = _next_patch("mg-tasks")

    done = _release_script(clone, "mg-tasks", release)

    assert done.returncode == 1
    assert f"packages/mg-tasks/CHANGELOG.md has no '## {release}' entry" in done.stderr
    assert _git("tag", "--list", cwd=clone) == ""
    assert _git("status", "--porcelain", cwd=clone) == ""
    assert not (clone / "dist" / "release").exists()


def test_release_a_version_sibling_ranges_exclude_is_refused_and_undone(clone: Path) -> None:
    current = version("mg-core")
    release = f"{current.major}.{current.minor + 1}.0"
    _add_changelog_entry(clone, "mg-core", release)

    done = _release_script(clone, "mg-core", release)

    assert done.returncode == 1
    # Every sibling that requires mg-core is named, with its range as written.
    assert "packages/mg-adapters/pyproject.toml (dependencies): 'mg-core<0.2,>=0.1'" in (
        done.stderr
    )
    assert f"excludes mg-core {release}" in done.stderr
    assert _git("tag", "--list", cwd=clone) == ""
    assert _git("status", "--porcelain", cwd=clone) == ""


def test_release_refuses_a_version_below_the_current_one(clone: Path) -> None:
    current = version("mg-cli")
    _add_changelog_entry(clone, "mg-cli", "0.0.9")

    done = _release_script(clone, "mg-cli", "0.0.9")

    assert done.returncode == 1
    assert f"mg-cli is already at {current}; a release cannot go back to 0.0.9" in done.stderr
    assert _git("tag", "--list", cwd=clone) == ""


def test_lowest_builds_a_sibling_from_its_oldest_release_in_range(clone: Path) -> None:
    released = version("mg-core")
    _git("tag", "--annotate", f"mg-core-v{released}", "--message", "release", cwd=clone)
    bumped = f"{released.major}.{released.minor}.{released.micro + 1}"
    path = clone / "packages" / "mg-core" / "pyproject.toml"
    path.write_text(path.read_text().replace(f'version = "{released}"', f'version = "{bumped}"'))
    _git("commit", "--quiet", "-am", f"mg-core {bumped}", cwd=clone)

    # Users of mg-core>=0.1 may have the release: it is what the dependents are tested with.
    found, tag = lowest_sibling("mg-core", SpecifierSet(f">={released}"), clone)
    assert (found, tag) == (released, f"mg-core-v{released}")
    source = export_release("mg-core", tag, clone / "exported", clone)
    assert f'version = "{released}"' in (source / "pyproject.toml").read_text()
    assert (source / "src" / "mg" / "core" / "py.typed").is_file()
    # A range above the release leaves the workspace version (not released yet).
    assert lowest_sibling("mg-core", SpecifierSet(f">={bumped}"), clone) == (Version(bumped), "")
    with pytest.raises(ValueError, match=r"no version of mg-core satisfies >=9\.0"):
        lowest_sibling("mg-core", SpecifierSet(">=9.0"), clone)


@pytest.fixture
def pyprojects(tmp_path: Path) -> Path:
    """A copy of the five pyproject.toml files, to break one way at a time."""
    for package in PACKAGES:
        target = tmp_path / "packages" / package
        target.mkdir(parents=True)
        shutil.copy(ROOT / "packages" / package / "pyproject.toml", target)
    return tmp_path


def _edit(root: Path, package: str, old: str, new: str) -> None:
    path = root / "packages" / package / "pyproject.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_bounds_hold_for_the_workspace() -> None:
    assert bound_problems(ROOT) == []


def test_bounds_name_a_requires_python_below_a_siblings(pyprojects: Path) -> None:
    _edit(pyprojects, "mg-adapters", 'requires-python = ">=3.11"', 'requires-python = ">=3.10"')

    assert bound_problems(pyprojects) == [
        "packages/mg-adapters/pyproject.toml: requires-python = '>=3.10', but every mg "
        "distribution needs '>=3.11' (mg-core needs 3.11, and it is the lowest Python nox "
        "tests): set requires-python = '>=3.11'"
    ]


def test_bounds_name_a_missing_or_unlisted_major_cap(pyprojects: Path) -> None:
    path = pyprojects / "packages" / "mg-tasks" / "pyproject.toml"
    text = path.read_text()
    floor = re.search(r'"torchmetrics>=([\d.]+),<2"', text)
    assert floor is not None
    text = text.replace(floor.group(0), f'"torchmetrics>={floor.group(1)}"')
    path.write_text(text.replace('"pandas>=', '"pandas<4,>=', 1))

    problems = bound_problems(pyprojects)

    assert len(problems) == 2
    assert problems[0].startswith(
        f"packages/mg-tasks/pyproject.toml (dependencies): 'torchmetrics>={floor.group(1)}' "
        "must be capped at '<2'"
    )
    assert "'pandas" in problems[1] and "is not in MAJOR_CAPS" in problems[1]


def test_bounds_name_a_sibling_range_without_upper_bound(pyprojects: Path) -> None:
    _edit(pyprojects, "mg-cli", '"mg-tasks>=0.1,<0.2"', '"mg-tasks>=0.1"')

    assert bound_problems(pyprojects) == [
        "packages/mg-cli/pyproject.toml (dependencies): 'mg-tasks>=0.1' needs a lower and an "
        "upper bound, e.g. 'mg-tasks>=0.1,<0.2'"
    ]


def test_lowest_reruns_exactly_where_requirements_changed(pyprojects: Path) -> None:
    (pyprojects / "tools").mkdir()
    assert stale_lowest(pyprojects) == PACKAGES  # nothing recorded yet: all must run
    for package in PACKAGES:
        write_lowest_record(package, [f"torch=={package}-pin"], pyprojects)
    assert stale_lowest(pyprojects) == []
    assert read_lowest_record(pyprojects)["mg-cli"]["tested"] == ["torch==mg-cli-pin"]

    # A release (version bump) changes nothing the lowest session installs.
    _edit(pyprojects, "mg-core", 'version = "0.1.0"', 'version = "0.1.1"')
    assert stale_lowest(pyprojects) == []
    # A requirement of mg-adapters does: it and the distributions that install it re-run.
    path = pyprojects / "packages" / "mg-adapters" / "pyproject.toml"
    path.write_text(re.sub(r'"torch>=[\d.]+,', '"torch>=2.9,', path.read_text(), count=1))
    assert stale_lowest(pyprojects) == ["mg-adapters", "mg-tasks", "mg-cli"]


def test_wheel_check_refuses_a_wheel_without_py_typed_or_shipped_data(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    subprocess.run(
        ["uv", "build", "--package", "mg-tasks", "--wheel", "--out-dir", str(out)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        check=True,
    )
    good = next(out.glob("*.whl"))
    assert wheel_problems(good, "mg-tasks") == []
    stripped = tmp_path / good.name.replace(".whl", "-stripped.whl")
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(stripped, "w") as target:
        for item in source.infolist():
            if not item.filename.endswith(("py.typed", "promoters_train.csv")):
                target.writestr(item, source.read(item))

    assert wheel_problems(stripped, "mg-tasks") == [
        f"{stripped.name} lacks py.typed",
        f"{stripped.name} lacks mg/tasks/examples/promoters_train.csv: a pip install would lose it",
    ]

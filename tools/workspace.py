"""What the five mg distributions promise about themselves, and the checks that hold them to it.

Shared by ``noxfile.py`` (the ``bounds`` and ``wheels`` sessions) and ``tools/release.py``:
one place says which Python mg supports, which majors are capped, and what a built wheel
or sdist must contain.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["mg-core", "mg-adapters", "mg-backbones", "mg-tasks", "mg-cli"]
# The interpreter nox tests on. Every distribution claims exactly this as its lowest Python,
# so the lowest Python a user may install on is the one CI proves.
PYTHON = "3.11"
# Upper-bound policy (docs/releasing.md): cap at the next major the frameworks whose classes
# mg subclasses or configures (a new major there is allowed to break us, and transformers 5
# did break v4 code); leave everything else uncapped, because a cap we cannot prove forces
# downstream resolvers into conflicts. The bounds session checks every requirement on these
# names carries exactly this cap, and no other third-party requirement carries any.
MAJOR_CAPS = {
    "torch": "3",
    "lightning": "3",
    "transformers": "6",
    "torchmetrics": "2",
    "jsonargparse": "5",
}
# Data files that must travel inside the wheels (DESIGN.md: defaults outside the wheel were
# silently lost by pip installs in the earlier framework).
SHIPPED_DATA = {
    "mg-cli": ["mg/cli/configs/defaults.yaml", "mg/cli/configs/predict.yaml"],
    "mg-tasks": ["mg/tasks/examples/promoters_train.csv"],
    "mg-backbones": ["mg/backbones/cells/data/aido_cell_genes.txt"],
}


def pyproject(package: str, root: Path = ROOT) -> dict:
    """Read one distribution's ``pyproject.toml``.

    Args:
        package (str): Distribution name, e.g. ``"mg-core"``.
        root (Path): Repository root.

    Returns:
        dict: The parsed file.
    """
    return tomllib.loads((root / "packages" / package / "pyproject.toml").read_text())


def version(package: str, root: Path = ROOT) -> Version:
    """The static version a distribution declares.

    Args:
        package (str): Distribution name.
        root (Path): Repository root.

    Returns:
        Version: Its ``[project] version``.
    """
    return Version(pyproject(package, root)["project"]["version"])


def requirements(package: str, root: Path = ROOT) -> list[tuple[str, Requirement]]:
    """Every requirement a distribution declares, with where it is declared.

    Args:
        package (str): Distribution name.
        root (Path): Repository root.

    Returns:
        list[tuple[str, Requirement]]: ``(where, requirement)`` pairs; ``where`` is
        ``"dependencies"``, ``"extra <name>"`` or ``"test group"``.
    """
    data = pyproject(package, root)
    project = data["project"]
    found = [("dependencies", Requirement(line)) for line in project.get("dependencies", [])]
    for extra, lines in project.get("optional-dependencies", {}).items():
        found += [(f"extra {extra}", Requirement(line)) for line in lines]
    test_group = data.get("dependency-groups", {}).get("test", [])
    return found + [("test group", Requirement(line)) for line in test_group]


def _upper_bounds(specifier: SpecifierSet) -> list[str]:
    return [spec.version for spec in specifier if spec.operator in {"<", "<=", "~=", "=="}]


def bound_problems(root: Path = ROOT) -> list[str]:
    """Everything wrong with the version ranges and Python claims of the five distributions.

    Checks that each sibling requirement has a lower and an upper bound and admits the
    sibling's workspace version; that third-party upper bounds follow ``MAJOR_CAPS``; and
    that every distribution claims the same ``requires-python``, whose lowest Python is the
    one nox tests (``PYTHON``) and not below what any sibling it needs claims.

    Args:
        root (Path): Repository root.

    Returns:
        list[str]: One line per problem, naming the file, the requirement as written and
        the fix; empty when all is consistent.
    """
    versions = {p: version(p, root) for p in PACKAGES}
    problems = []
    for package in PACKAGES:
        where_file = f"packages/{package}/pyproject.toml"
        for where, requirement in requirements(package, root):
            text = str(requirement)
            operators = {spec.operator for spec in requirement.specifier}
            if requirement.name in versions:
                sibling = versions[requirement.name]
                if not operators & {">=", ">", "~=", "=="} or not _upper_bounds(
                    requirement.specifier
                ):
                    problems.append(
                        f"{where_file} ({where}): {text!r} needs a lower and an upper bound, "
                        f"e.g. '{requirement.name}>={sibling.major}.{sibling.minor},"
                        f"<{sibling.major}.{sibling.minor + 1}'"
                    )
                elif sibling not in requirement.specifier:
                    problems.append(
                        f"{where_file} ({where}): {text!r} excludes {requirement.name} "
                        f"{sibling} (the workspace version): widen the range or release "
                        f"{package} with a range that admits it"
                    )
                continue
            cap = MAJOR_CAPS.get(requirement.name)
            uppers = _upper_bounds(requirement.specifier)
            if cap is not None and uppers != [cap]:
                problems.append(
                    f"{where_file} ({where}): {text!r} must be capped at '<{cap}' "
                    f"(MAJOR_CAPS in tools/workspace.py, docs/releasing.md)"
                )
            elif cap is None and uppers:
                problems.append(
                    f"{where_file} ({where}): {text!r} has an upper bound, but "
                    f"{requirement.name} is not in MAJOR_CAPS: drop the cap, or add it to "
                    f"MAJOR_CAPS in tools/workspace.py with the reason"
                )
    problems += python_problems(root)
    return problems


def python_problems(root: Path = ROOT) -> list[str]:
    """Whether the five ``requires-python`` claims agree and match the tested interpreter.

    Args:
        root (Path): Repository root.

    Returns:
        list[str]: One line per problem; empty when consistent.
    """
    problems = []
    claims = {p: pyproject(p, root)["project"].get("requires-python") for p in PACKAGES}
    expected = f">={PYTHON}"
    for package, claim in claims.items():
        if claim is None or SpecifierSet(claim) != SpecifierSet(expected):
            problems.append(
                f"packages/{package}/pyproject.toml: requires-python = {claim!r}, but every "
                f"mg distribution needs {expected!r} (mg-core needs {PYTHON}, and it is the "
                f"lowest Python nox tests): set requires-python = {expected!r}"
            )
    return problems


def _metadata(text: str) -> dict[str, list[str]]:
    message = Parser().parsestr(text)
    fields: dict[str, list[str]] = {}
    for key, value in message.items():
        fields.setdefault(key, []).append(value)
    fields["Description"] = [message.get_payload() or ""]
    return fields


def wheel_problems(wheel: Path, package: str, root: Path = ROOT) -> list[str]:
    """What a built wheel lacks or gets wrong for ``package``.

    Args:
        wheel (Path): The ``.whl`` file.
        package (str): Distribution name it should hold.
        root (Path): Repository root the wheel was built from.

    Returns:
        list[str]: One line per problem; empty when the wheel is good.
    """
    with zipfile.ZipFile(wheel) as archive:
        files = archive.namelist()
        name = next(n for n in files if n.endswith(".dist-info/METADATA"))
        metadata = _metadata(archive.read(name).decode())
    problems = []
    if "mg/__init__.py" in files:
        problems.append(f"{wheel.name} ships mg/__init__.py; mg is a namespace package")
    if not any(f.endswith("py.typed") for f in files):
        problems.append(f"{wheel.name} lacks py.typed")
    for required in SHIPPED_DATA.get(package, []):
        if required not in files:
            problems.append(f"{wheel.name} lacks {required}: a pip install would lose it")
    return problems + _metadata_problems(wheel.name, metadata, package, root)


def sdist_problems(sdist: Path, package: str, root: Path = ROOT) -> list[str]:
    """What a built sdist lacks or gets wrong for ``package``.

    Args:
        sdist (Path): The ``.tar.gz`` file.
        package (str): Distribution name it should hold.
        root (Path): Repository root the sdist was built from.

    Returns:
        list[str]: One line per problem; empty when the sdist is good.
    """
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
        top = members[0].split("/")[0]
        pkg_info = archive.extractfile(f"{top}/PKG-INFO")
        metadata = _metadata(pkg_info.read().decode()) if pkg_info else {}
    inside = {m.removeprefix(f"{top}/") for m in members}
    problems = []
    for required in ["pyproject.toml", "README.md", "CHANGELOG.md"]:
        if required not in inside:
            problems.append(f"{sdist.name} lacks {required}")
    if not any(m.endswith("py.typed") for m in inside):
        problems.append(f"{sdist.name} lacks py.typed")
    for required in SHIPPED_DATA.get(package, []):
        if f"src/{required}" not in inside:
            problems.append(f"{sdist.name} lacks src/{required}: a wheel built from it would too")
    if not any(m.startswith("tests/") for m in inside):
        problems.append(f"{sdist.name} lacks tests/: downstream packagers run them")
    return problems + _metadata_problems(sdist.name, metadata, package, root)


def _metadata_problems(
    label: str, metadata: dict[str, list[str]], package: str, root: Path
) -> list[str]:
    problems = []
    expected = version(package, root)
    if metadata.get("Name") != [package]:
        problems.append(f"{label}: Name is {metadata.get('Name')}, expected {package}")
    if metadata.get("Version") != [str(expected)]:
        problems.append(f"{label}: Version is {metadata.get('Version')}, expected {expected}")
    claim = pyproject(package, root)["project"]["requires-python"]
    if metadata.get("Requires-Python") != [claim]:
        problems.append(
            f"{label}: Requires-Python is {metadata.get('Requires-Python')}, expected {claim}"
        )
    if metadata.get("Description-Content-Type") != ["text/markdown"]:
        problems.append(f"{label}: the long description is not marked text/markdown")
    if not metadata.get("Description", [""])[0].strip():
        problems.append(f"{label}: empty long description (README.md missing from the build?)")
    for line in metadata.get("Requires-Dist", []):
        requirement = Requirement(line)
        if requirement.name in PACKAGES and not _upper_bounds(requirement.specifier):
            problems.append(f"{label}: unbounded sibling requirement {line!r}")
    return problems


LOWEST_RECORD = "tools/lowest-tested.toml"
"""Written by ``nox -s lowest``: what each distribution last passed with at its lower bounds."""


def sibling_closure(package: str, root: Path = ROOT) -> list[str]:
    """The distribution and every sibling it needs, directly or not.

    Args:
        package (str): Distribution name.
        root (Path): Repository root.

    Returns:
        list[str]: ``package`` first, then its siblings in discovery order.
    """
    seen: list[str] = []
    todo = [package]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        todo += [r.name for _, r in requirements(name, root) if r.name in PACKAGES]
    return seen


def declarations_fingerprint(package: str, root: Path = ROOT) -> str:
    """A hash of everything that decides what ``nox -s lowest`` installs for ``package``.

    Covers ``requires-python``, dependencies, extras and the ``test`` group of the
    distribution and of every sibling it needs; not versions, entry points or code, so a
    release or a code change does not call for a new lowest-versions run.

    Args:
        package (str): Distribution name.
        root (Path): Repository root.

    Returns:
        str: 16 hex digits.
    """
    declared = {}
    for name in sorted(sibling_closure(package, root)):
        data = pyproject(name, root)
        project = data["project"]
        declared[name] = {
            "requires-python": project.get("requires-python"),
            "dependencies": sorted(project.get("dependencies", [])),
            "optional-dependencies": {
                k: sorted(v) for k, v in project.get("optional-dependencies", {}).items()
            },
            "test": sorted(data.get("dependency-groups", {}).get("test", [])),
        }
    text = json.dumps(declared, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_lowest_record(root: Path = ROOT) -> dict[str, dict]:
    """The lowest-versions record, keyed by distribution; empty when there is none.

    Args:
        root (Path): Repository root.

    Returns:
        dict[str, dict]: ``{package: {"fingerprint": str, "tested": [str, ...]}}``.
    """
    path = root / LOWEST_RECORD
    return tomllib.loads(path.read_text()) if path.is_file() else {}


def write_lowest_record(package: str, tested: list[str], root: Path = ROOT) -> None:
    """Record that ``package`` passed its tests at the lowest versions ``tested``.

    Args:
        package (str): Distribution that passed.
        tested (list[str]): The ``name==version`` pins of what it declares.
        root (Path): Repository root.
    """
    record = read_lowest_record(root)
    record[package] = {"fingerprint": declarations_fingerprint(package, root), "tested": tested}
    lines = [
        "# Written by `nox -s lowest` when a distribution passes its tests at its lowest",
        "# allowed versions; commit it. `nox` re-runs the lowest session for a distribution",
        "# whose declared requirements (or a sibling's) no longer match its fingerprint.",
    ]
    for name in PACKAGES:
        if name in record:
            pins = ", ".join(json.dumps(pin) for pin in record[name]["tested"])
            lines += ["", f"[{name}]", f'fingerprint = "{record[name]["fingerprint"]}"']
            lines.append(f"tested = [{pins}]")
    (root / LOWEST_RECORD).write_text("\n".join(lines) + "\n")


def stale_lowest(root: Path = ROOT) -> list[str]:
    """Distributions whose declarations changed since they last passed ``nox -s lowest``.

    Args:
        root (Path): Repository root.

    Returns:
        list[str]: Distribution names, in ``PACKAGES`` order.
    """
    record = read_lowest_record(root)
    return [
        p
        for p in PACKAGES
        if record.get(p, {}).get("fingerprint") != declarations_fingerprint(p, root)
    ]


def release_tags(name: str, root: Path = ROOT) -> dict[Version, str]:
    """Versions of ``name`` released from this repository, read from its release tags.

    Args:
        name (str): Distribution name.
        root (Path): Repository root (a git checkout).

    Returns:
        dict[Version, str]: Each released version and its ``<name>-vX.Y.Z`` tag.
    """
    listed = subprocess.run(
        ["git", "tag", "--list", f"{name}-v*"], cwd=root, capture_output=True, text=True
    ).stdout.split()
    return {Version(tag.removeprefix(f"{name}-v")): tag for tag in listed}


def lowest_sibling(name: str, spec: SpecifierSet, root: Path = ROOT) -> tuple[Version, str]:
    """The lowest version of sibling ``name`` that ``spec`` admits, and where to build it.

    A released version (from its tag) is what users install, so it wins over the
    workspace when both are admitted; the workspace counts for versions not released yet.

    Args:
        name (str): Sibling distribution.
        spec (SpecifierSet): Every range on it in the closure, combined.
        root (Path): Repository root.

    Returns:
        tuple[Version, str]: The version, and its tag (``""`` for the workspace).

    Raises:
        ValueError: When neither a release nor the workspace version is admitted.
    """
    tags = release_tags(name, root)
    candidates = {release: tag for release, tag in tags.items() if release in spec}
    workspace = version(name, root)
    if workspace in spec:
        candidates.setdefault(workspace, "")
    if not candidates:
        raise ValueError(
            f"no version of {name} satisfies {spec} (workspace {workspace}, releases "
            f"{sorted(map(str, tags))}): fix the range in packages/*/pyproject.toml"
        )
    lowest = min(candidates)
    return lowest, candidates[lowest]


def export_release(name: str, tag: str, dest: Path, root: Path = ROOT) -> Path:
    """Write a distribution's folder as it was at a release tag, to build it.

    Args:
        name (str): Distribution name.
        tag (str): Its release tag.
        dest (Path): Folder to write into.
        root (Path): Repository root.

    Returns:
        Path: The distribution's folder under ``dest``.
    """
    archive = subprocess.run(
        ["git", "archive", tag, f"packages/{name}"], cwd=root, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "packages" / name


def changelog_entry(package: str, release: Version, root: Path = ROOT) -> str:
    """The text under ``## X.Y.Z`` in a distribution's CHANGELOG.

    Args:
        package (str): Distribution name.
        release (Version): The version to look for.
        root (Path): Repository root.

    Returns:
        str: The entry's body, stripped; empty when there is no such heading.
    """
    text = (root / "packages" / package / "CHANGELOG.md").read_text()
    match = re.search(rf"^## {re.escape(str(release))}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    return match.group(1).strip() if match else ""

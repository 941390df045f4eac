"""Test sessions for the mg workspace.

`nox` runs every session CI needs on each change; `nox -s NAME` runs one. Each environment
axis is a session: every distribution tested alone with only what it declares, built wheels
installed alone, sibling bounds, lint, docs, the backbone × adapter × task matrix on CPU
(and on GPU where there is one), and the CLI end to end. Three sessions are not in the
default run: `first_steps` (wheels into a fresh environment, then the quickstart's
commands in an empty folder: about 8 minutes on a busy 2-core machine), `lowest` (each
distribution at its lowest allowed versions; the default run's `lowest_when_changed`
queues it for each distribution whose requirements changed since the pass recorded in
tools/lowest-tested.toml) and `release` (one distribution, named on the command line;
docs/releasing.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = [
    "lint",
    "bounds",
    "tests",
    "wheels",
    "matrix",
    "matrix_gpu",
    "integration",
    "docs",
    "lowest_when_changed",
]

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "tools"))
# One source of truth for the distributions, the Python they claim, caps and shipped data.
from workspace import (  # noqa: E402
    LOWEST_RECORD,
    PACKAGES,
    PYTHON,
    bound_problems,
    export_release,
    lowest_sibling,
    pyproject,
    sibling_closure,
    stale_lowest,
    wheel_problems,
    write_lowest_record,
)

# Extras a distribution's own tests exercise (LoRA needs peft, Parquet needs pyarrow).
TEST_EXTRAS = {
    "mg-core": ["testing"],
    "mg-backbones": ["peft"],
    "mg-tasks": ["parquet", "cells", "genome"],
    "mg-cli": ["parquet", "report", "sweep"],
}


def _pyproject(package: str) -> dict:
    return pyproject(package)


def _sync(session: nox.Session, *args: str) -> None:
    """Install from the lock file into the session's environment, nothing more."""
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        "--no-default-groups",
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


PARALLEL = ("-n", "auto", "--maxprocesses", "4")
"""pytest-xdist options for the suites made of many subprocess runs of `mg` (each mostly
waits on one core): one worker a core, so a 2-core CI machine runs two at once."""

PARALLEL_PACKAGES = ("mg-cli",)
"""Distributions whose own tests run with `PARALLEL` (their test group has pytest-xdist)."""

DOMAIN_EXTRAS = ("--extra", "cells", "--extra", "genome", "--extra", "hf")
"""The extras with the cell, genome-coordinate and Hugging Face datasets readers, for the
sessions across packages."""


def _pytest(session: nox.Session, *paths: str, parallel: bool = False) -> None:
    # pytest exits 5 when nothing ran: that must fail CI, never pass it silently.
    session.run("pytest", *paths, *(PARALLEL if parallel else ()), *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff lint and format checks over the whole repository."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=False)
def bounds(session: nox.Session) -> None:
    """Fail when version ranges or Python claims are inconsistent (tools/workspace.py).

    Sibling ranges need both bounds and must admit the sibling's workspace version;
    third-party caps follow the policy in ``MAJOR_CAPS``; all five distributions claim the
    same ``requires-python``, the lowest Python nox tests.
    """
    problems = bound_problems()
    if problems:
        session.error("\n".join(problems))
    session.log(f"Bounds and requires-python consistent for {', '.join(PACKAGES)}")


@nox.session(python=PYTHON)
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One distribution alone, with only what it declares, running its own tests."""
    extras = [arg for extra in TEST_EXTRAS.get(package, []) for arg in ("--extra", extra)]
    _sync(session, "--package", package, "--group", "test", *extras)
    _pytest(session, f"packages/{package}/tests", parallel=package in PARALLEL_PACKAGES)


@nox.session(python=PYTHON)
def wheels(session: nox.Session) -> None:
    """Build every wheel; install each alone (with its sibling wheels) and import it."""
    dist = Path(session.create_tmp()) / "dist"
    session.run("uv", "build", "--all-packages", "--wheel", "--out-dir", str(dist), external=True)
    built = {w.name.split("-")[0].replace("_", "-"): w for w in dist.glob("*.whl")}
    missing = set(PACKAGES) - set(built)
    if missing:
        session.error(f"no wheel built for {sorted(missing)}")
    for package in PACKAGES:
        _check_wheel_metadata(session, built[package], package)
        venv = Path(session.create_tmp()) / f"venv-{package}"
        session.run("uv", "venv", "-q", "--clear", "--python", PYTHON, str(venv), external=True)
        python = str(venv / "bin" / "python")
        closure = sibling_closure(package)
        session.run(
            "uv",
            "pip",
            "install",
            "-q",
            "--python",
            python,
            *[str(built[p]) for p in closure],
            external=True,
        )
        module = "mg." + package.removeprefix("mg-")
        session.run(
            python, "-c", f"import {module}; print('{package} imports alone')", external=True
        )
        if package == "mg-cli":
            session.run(str(venv / "bin" / "mg"), "--help", external=True, silent=True)
            session.run(str(venv / "bin" / "mg"), "list", external=True, silent=True)
            session.log("mg --help and mg list run from the installed wheel")


FIRST_STEPS = (
    ("mg", "init"),
    ("mg", "fit", "--config", "quickstart.yaml"),
    ("mg", "test", "--config", "quickstart.yaml", "--ckpt_path", "best"),
)
"""The commands the home page, README and quickstart give a new user, run as written."""


@nox.session(python=PYTHON, default=False)
def first_steps(session: nox.Session) -> None:
    """From wheels to a trained model the way docs/quickstart.md says, with nothing else.

    Builds every wheel, installs mg-cli's into a fresh virtual environment (only PyPI for
    the third-party packages), then runs `FIRST_STEPS` in an empty folder and checks that a
    best checkpoint exists. Not in the default run: a fresh install plus a 10-epoch fit
    takes several minutes on a 2-core machine (``nox -s first_steps``).
    """
    tmp = Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    session.run("uv", "build", "--all-packages", "--wheel", "--out-dir", str(dist), external=True)
    venv = tmp / "venv"
    session.run("uv", "venv", "-q", "--clear", "--python", PYTHON, str(venv), external=True)
    wheels = [str(w) for w in sorted(dist.glob("*.whl"))]
    # Every sibling as a file: an mg-core of the same name on PyPI must not be picked.
    session.run(
        "uv", "pip", "install", "-q", "--python", str(venv / "bin" / "python"), *wheels,
        external=True,
    )  # fmt: skip
    folder = tmp / "empty"
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    folder.mkdir()
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    with session.chdir(folder):
        for command in FIRST_STEPS:
            session.run(*command, external=True, env=env)
    best = sorted((folder / "runs" / "mg").glob("version_*/checkpoints/best-*.ckpt"))
    if not best:
        session.error(f"no best checkpoint under {folder / 'runs' / 'mg'} after the quickstart")
    session.log(f"trained from the wheels alone: {best[0].relative_to(folder)}")


def _check_wheel_metadata(session: nox.Session, wheel: Path, package: str) -> None:
    problems = wheel_problems(wheel, package)
    if problems:
        session.error("\n".join(problems))


@nox.session(python=PYTHON, default=False)
@nox.parametrize("package", PACKAGES)
def lowest(session: nox.Session, package: str) -> None:
    """One distribution at the lowest versions it allows, running its own tests.

    Every requirement the distribution declares (and its test group) resolves to the lowest
    version its range admits (uv's ``lowest-direct``; what those pull in resolves to the
    newest, as in a user's fresh install). Siblings come from wheels built at the lowest
    version all ranges in the closure admit: an older release tag ``mg-<name>-vX.Y.Z``
    when one is in range, else the workspace. Not in the default run (README: it installs
    an old CUDA torch per distribution and takes minutes each).
    """
    tmp = Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    sibling_wheels = {
        name: _build_lowest_sibling(session, name, spec, dist)
        for name, spec in _closure_ranges(package).items()
    }
    own_wheel = _build(session, ROOT / "packages" / package, dist)
    declared = _pyproject(package)
    lines = [f"{name} @ {wheel.as_uri()}" for name, wheel in sibling_wheels.items()]
    lines += declared.get("dependency-groups", {}).get("test", [])
    requirements_in = tmp / "siblings-and-test-group.in"
    requirements_in.write_text("\n".join(lines) + "\n")
    pinned = tmp / "lowest.txt"
    # uv prefers the pins of an existing output file: start afresh, or a reused session
    # would keep the versions of an earlier run instead of the lowest ones.
    pinned.unlink(missing_ok=True)
    extras = [arg for extra in TEST_EXTRAS.get(package, []) for arg in ("--extra", extra)]
    session.run_install(
        "uv",
        "pip",
        "compile",
        "--quiet",
        "--resolution",
        "lowest-direct",
        # Not the workspace's editable siblings: the wheels named in requirements_in.
        "--no-sources",
        "--python-version",
        PYTHON,
        "--no-header",
        *extras,
        str(ROOT / "packages" / package / "pyproject.toml"),
        str(requirements_in),
        "--output-file",
        str(pinned),
        external=True,
    )
    env = {"VIRTUAL_ENV": session.virtualenv.location}
    session.run_install("uv", "pip", "sync", "--quiet", str(pinned), env=env, external=True)
    session.run_install(
        "uv", "pip", "install", "--quiet", "--no-deps", str(own_wheel), env=env, external=True
    )
    tested = _direct_pins(package, pinned)
    session.log(f"{package} at its lower bounds: {', '.join(tested)}")
    _pytest(session, f"packages/{package}/tests", parallel=package in PARALLEL_PACKAGES)
    write_lowest_record(package, tested)
    session.log(f"recorded in {LOWEST_RECORD}: commit it")


@nox.session(python=False)
def lowest_when_changed(session: nox.Session) -> None:
    """Queue ``lowest`` for each distribution whose requirements changed since it last passed.

    The default run stays within the CI budget: the lowest-versions tests (minutes per
    distribution) run only when a pyproject.toml changes what they would install.
    """
    stale = stale_lowest()
    if not stale:
        session.log(f"requirements unchanged since the lowest-versions pass in {LOWEST_RECORD}")
    for package in stale:
        session.log(f"{package}: requirements changed since its last lowest-versions pass")
        session.notify(f"lowest(package='{package}')")


def _build(session: nox.Session, source: Path, dist: Path) -> Path:
    """Build the wheel of the distribution in ``source`` and return its path."""
    out = dist / source.name
    session.run(
        "uv", "build", "--quiet", "--wheel", "--out-dir", str(out), str(source), external=True
    )
    return next(out.glob("*.whl"))


def _closure_ranges(package: str) -> dict[str, SpecifierSet]:
    """Each sibling ``package`` needs (directly or not), with every range on it combined."""
    ranges: dict[str, SpecifierSet] = {}
    for name in sibling_closure(package):
        for line in _pyproject(name)["project"].get("dependencies", []):
            requirement = Requirement(line)
            if requirement.name in PACKAGES:
                combined = ranges.get(requirement.name, SpecifierSet())
                ranges[requirement.name] = combined & requirement.specifier
    return ranges


def _build_lowest_sibling(session: nox.Session, name: str, spec: SpecifierSet, dist: Path) -> Path:
    """Build ``name`` at the lowest version ``spec`` admits: a release tag or the workspace."""
    try:
        lowest_version, tag = lowest_sibling(name, spec)
    except ValueError as error:
        session.error(str(error))
    if not tag:
        session.log(f"{name} {lowest_version} (workspace) is the lowest version {spec} admits")
        return _build(session, ROOT / "packages" / name, dist)
    session.log(f"{name} {lowest_version} from tag {tag} is the lowest version {spec} admits")
    source = export_release(name, tag, Path(session.create_tmp()) / "tags" / tag)
    return _build(session, source, dist)


def _direct_pins(package: str, pinned: Path) -> list[str]:
    """The resolved ``name==version`` of everything ``package`` declares, test group included."""
    data = _pyproject(package)
    lines = data["project"].get("dependencies", [])
    for extra in TEST_EXTRAS.get(package, []):
        lines = lines + data["project"]["optional-dependencies"][extra]
    lines = lines + data.get("dependency-groups", {}).get("test", [])
    declared = {Requirement(line).name for line in lines}
    pins = []
    for line in pinned.read_text().splitlines():
        name, _, rest = line.partition(" @ ")
        if rest:  # a sibling wheel: name-version-tags.whl
            line = f"{name}=={rest.rsplit('/', 1)[-1].split('-')[1]}"
        if line.partition("==")[0] in declared:
            pins.append(line.split()[0])
    return pins


@nox.session(python=PYTHON, default=False)
def release(session: nox.Session) -> None:
    """Release ONE distribution, all but the upload: ``nox -s release -- mg-adapters 0.1.1``.

    Checks the tree is clean and the CHANGELOG has the entry, bumps the version, re-runs the
    bounds checks, builds and checks the sdist and wheel (metadata, README renders, py.typed,
    shipped data), commits and tags ``mg-adapters-v0.1.1``. See docs/releasing.md.
    """
    if len(session.posargs) != 2:
        session.error("say which distribution and version: nox -s release -- mg-adapters 0.1.1")
    session.install("twine>=6.1", "readme-renderer[md]>=44", "packaging>=24")
    session.run("python", "tools/release.py", *session.posargs)


@nox.session(python=PYTHON)
def matrix(session: nox.Session) -> None:
    """Every compatible backbone × adapter × task triple fits, tests and predicts on CPU."""
    _sync(session, "--all-packages", "--group", "dev", *DOMAIN_EXTRAS)
    _pytest(session, "tests/matrix", "-m", "not gpu", parallel=True)


@nox.session(python=PYTHON)
def matrix_gpu(session: nox.Session) -> None:
    """The matrix on CUDA with bf16 mixed precision; skips with a message without a GPU."""
    _sync(session, "--all-packages", "--group", "dev", *DOMAIN_EXTRAS)
    probe = "import torch; print(torch.cuda.is_available())"
    has_gpu = "True" in str(session.run("python", "-c", probe, silent=True))
    if not has_gpu:
        if os.environ.get("MG_REQUIRE_GPU") == "1":
            session.error("MG_REQUIRE_GPU=1 but torch sees no CUDA device")
        session.skip("no CUDA device here: run `nox -s matrix_gpu` on a machine with a GPU")
    _pytest(session, "tests/matrix", "-m", "gpu")


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """The mg command end to end (including a 2-process DDP fit on CPU) and cross-package tests."""
    _sync(session, "--all-packages", "--group", "dev", *DOMAIN_EXTRAS)
    _pytest(session, "tests", "--ignore=tests/matrix", "--ignore=tests/docs", parallel=True)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors and run its examples."""
    _sync(
        session,
        "--all-packages",
        "--group",
        "dev",
        "--group",
        "docs",
        *DOMAIN_EXTRAS,
    )
    session.run("python", "docs/gen_matrix.py")
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", str(Path(session.create_tmp()) / "site")
    )
    _pytest(session, "tests/docs", parallel=True)

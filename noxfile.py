"""Test sessions for the mg workspace.

`nox` runs every session CI needs; `nox -s NAME` runs one. Each environment axis is a
session: every distribution tested alone with only what it declares, built wheels
installed alone, sibling bounds, lint, docs, the backbone × adapter × task matrix on CPU
(and on GPU where there is one), and the CLI end to end.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.version import Version

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
]

ROOT = Path(__file__).parent
PACKAGES = ["mg-core", "mg-adapters", "mg-backbones", "mg-tasks", "mg-cli"]
# Extras a distribution's own tests exercise (LoRA needs peft, Parquet needs pyarrow).
TEST_EXTRAS = {
    "mg-core": ["testing"],
    "mg-backbones": ["peft"],
    "mg-tasks": ["parquet"],
    "mg-cli": ["parquet"],
}
PYTHON = "3.11"
# Data files that must travel inside the wheels (DESIGN.md: defaults outside the wheel were
# silently lost by pip installs in the earlier framework).
SHIPPED_DATA = {
    "mg-cli": ["mg/cli/configs/defaults.yaml", "mg/cli/configs/predict.yaml"],
    "mg-tasks": ["mg/tasks/examples/promoters_train.csv"],
}


def _pyproject(package: str) -> dict:
    return tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())


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


def _pytest(session: nox.Session, *paths: str) -> None:
    # pytest exits 5 when nothing ran: that must fail CI, never pass it silently.
    session.run("pytest", *paths, *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff lint and format checks over the whole repository."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=False)
def bounds(session: nox.Session) -> None:
    """Fail when a sibling requirement lacks a range or excludes the sibling's version."""
    versions = {p: Version(_pyproject(p)["project"]["version"]) for p in PACKAGES}
    problems = []
    for package in PACKAGES:
        for line in _pyproject(package)["project"].get("dependencies", []):
            requirement = Requirement(line)
            if requirement.name not in versions:
                continue
            operators = {spec.operator for spec in requirement.specifier}
            if not operators & {">=", ">", "~=", "=="} or not operators & {"<", "<=", "~=", "=="}:
                problems.append(f"{package}: {line!r} needs a lower and an upper bound")
            elif versions[requirement.name] not in requirement.specifier:
                problems.append(
                    f"{package}: {line!r} excludes {requirement.name} "
                    f"{versions[requirement.name]} (the workspace version)"
                )
    if problems:
        session.error("\n".join(problems))
    session.log(f"Sibling bounds consistent for {', '.join(PACKAGES)}")


@nox.session(python=PYTHON)
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One distribution alone, with only what it declares, running its own tests."""
    extras = [arg for extra in TEST_EXTRAS.get(package, []) for arg in ("--extra", extra)]
    _sync(session, "--package", package, "--group", "test", *extras)
    _pytest(session, f"packages/{package}/tests")


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
        closure = _sibling_closure(package)
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


def _sibling_closure(package: str) -> list[str]:
    """The package and every sibling it needs, directly or not."""
    seen: list[str] = []
    todo = [package]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        for line in _pyproject(name)["project"].get("dependencies", []):
            requirement = Requirement(line)
            if requirement.name in PACKAGES:
                todo.append(requirement.name)
    return seen


def _check_wheel_metadata(session: nox.Session, wheel: Path, package: str) -> None:
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
        files = archive.namelist()
    if any(f == "mg/__init__.py" for f in files):
        session.error(f"{wheel.name} ships mg/__init__.py; mg is a namespace package")
    if not any(f.endswith("py.typed") for f in files):
        session.error(f"{wheel.name} lacks py.typed")
    for required in SHIPPED_DATA.get(package, []):
        if required not in files:
            session.error(f"{wheel.name} lacks {required}: a pip install would lose it")
    for line in metadata.splitlines():
        if line.startswith("Requires-Dist:"):
            requirement = Requirement(line.partition(":")[2].strip())
            if requirement.name in PACKAGES and not requirement.specifier:
                session.error(f"{wheel.name}: unbounded sibling requirement {line!r}")


@nox.session(python=PYTHON)
def matrix(session: nox.Session) -> None:
    """Every compatible backbone × adapter × task triple fits, tests and predicts on CPU."""
    _sync(session, "--all-packages", "--group", "dev")
    _pytest(session, "tests/matrix", "-m", "not gpu")


@nox.session(python=PYTHON)
def matrix_gpu(session: nox.Session) -> None:
    """The matrix on CUDA with bf16 mixed precision; skips with a message without a GPU."""
    _sync(session, "--all-packages", "--group", "dev")
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
    _sync(session, "--all-packages", "--group", "dev")
    _pytest(session, "tests", "--ignore=tests/matrix", "--ignore=tests/docs")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors and run its examples."""
    _sync(session, "--all-packages", "--group", "dev", "--group", "docs")
    session.run("python", "docs/gen_matrix.py")
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", str(Path(session.create_tmp()) / "site")
    )
    _pytest(session, "tests/docs")

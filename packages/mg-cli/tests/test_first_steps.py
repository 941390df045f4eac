"""`mg init` gets a new user from an empty folder to a config that trains, in a second.

The config it writes must stay the repository's quickstart with relative data paths, and a
missing config file is reported before Lightning (or torch) is imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from mg.cli.starter import CONFIG, DATA, examples_folder

ROOT = Path(__file__).resolve().parents[3]

PROBE = (
    "import sys\nfrom mg.cli.main import main\n"
    "try:\n    status = main(sys.argv[1:])\nexcept SystemExit as stop:\n    status = stop.code\n"
    "heavy = sorted(m for m in ('torch', 'transformers', 'lightning') if m in sys.modules)\n"
    "print('HEAVY', heavy)\nsys.exit(status)"
)


def _mg(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``mg ARGS`` in ``cwd`` and report which heavy modules it imported."""
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=cwd
    )


def test_init_writes_the_examples_and_a_config_with_paths_inside_the_folder(
    tmp_path: Path,
) -> None:
    result = _mg(tmp_path, "init", "demo")
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
    assert "cd demo && mg fit --config quickstart.yaml" in result.stdout
    folder = tmp_path / "demo"
    shipped = sorted(p.name for p in examples_folder().iterdir() if p.suffix != ".py")
    assert sorted(p.name for p in (folder / DATA).iterdir()) == shipped
    for name in shipped:
        assert (folder / DATA / name).read_bytes() == (examples_folder() / name).read_bytes()
    config = yaml.safe_load((folder / CONFIG).read_text())
    for key in ("train_file", "val_file", "test_file", "predict_file"):
        path = Path(config["data"]["init_args"][key])
        assert not path.is_absolute() and (folder / path).is_file(), path


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / CONFIG).write_text("my own config\n")
    result = _mg(tmp_path, "init")
    assert result.returncode == 1
    assert "quickstart.yaml exists" in result.stderr and "--force" in result.stderr
    assert (tmp_path / CONFIG).read_text() == "my own config\n"
    assert not (tmp_path / DATA).exists()
    forced = _mg(tmp_path, "init", "--force")
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / CONFIG).read_text() != "my own config\n"


def test_init_help_creates_no_folder(tmp_path: Path) -> None:
    result = _mg(tmp_path, "init", "--help")
    assert result.returncode == 0
    assert "usage: mg init" in result.stdout and "mg fit --config quickstart.yaml" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_init_is_listed_in_mg_help(tmp_path: Path) -> None:
    assert "mg init && mg fit --config quickstart.yaml" in _mg(tmp_path, "--help").stdout


def test_init_config_is_the_repository_quickstart_with_data_in_the_folder() -> None:
    """The shipped config and configs/quickstart.yaml train the same model the same way."""
    shipped = yaml.safe_load((ROOT / "packages/mg-cli/src/mg/cli/starter" / CONFIG).read_text())
    repository = yaml.safe_load((ROOT / "configs/quickstart.yaml").read_text())
    assert shipped["model"] == repository["model"]
    assert shipped["trainer"] == repository["trainer"]
    shipped_data = dict(shipped["data"]["init_args"])
    repository_data = dict(repository["data"]["init_args"])
    for key, value in repository_data.items():
        if key.endswith("_file"):
            assert shipped_data[key] == f"{DATA}/{Path(value).name}", key
        else:
            assert shipped_data[key] == value, key


def test_a_missing_config_is_reported_before_lightning_loads(tmp_path: Path) -> None:
    for command in ("fit", "test", "check"):
        result = _mg(tmp_path, command, "--config", "quickstart.yaml")
        assert result.returncode == 2
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("mg: error: config file quickstart.yaml not found in"), line
        assert "mg init" in line
        assert "HEAVY []" in result.stdout

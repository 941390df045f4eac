"""Command-line mistakes get one line naming the option, component, or file and line.

Every test goes through the real `mg` entry point; none of them loads weights.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import write_config

from mg.cli.main import main


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `mg ARGS` in this process; return the exit status, stdout and stderr."""
    try:
        status = main(args)
    except SystemExit as exit_info:
        status = exit_info.code if isinstance(exit_info.code, int) else 1
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _one_line_error(err: str) -> str:
    """The single `mg: error:` line of stderr; fail on a usage dump or a traceback."""
    assert "usage:" not in err and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("mg: error: ")]
    assert len(lines) == 1, err
    after = err.split(lines[0], 1)[1].strip()
    assert after in ("", "(set MG_DEBUG=1 for the full traceback)"), err  # nothing follows
    return lines[0]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # an abbreviation argparse would silently accept
        (
            ["--trainer.max_epoch", "2"],
            "unknown option --trainer.max_epoch. Did you mean --trainer.max_epochs?",
        ),
        (["--trainer.max_epochz=2"], "Did you mean --trainer.max_epochs?"),
        (["--trainr.max_epochs", "2"], "Did you mean --trainer.max_epochs?"),
        (
            ["--data.init_args.batch_siz", "3"],
            "SequenceData has no option 'batch_siz'. Did you mean 'batch_size'?",
        ),
        (
            ["--model.init_args.n_clases", "3"],
            "SequenceClassification has no option 'n_clases'. Did you mean 'n_classes'?",
        ),
        # nested components are named, not the task that holds them
        (
            ["--model.init_args.adapter.init_args.dropot", "0.1"],
            "The adapter "
            "LinearMeanPoolAdapter has no option 'dropot'. Did you mean 'dropout'? Its options: "
            "dropout.",
        ),
        (
            ["--model.init_args.backbone.init_args.max_lenght", "9"],
            "The backbone OneHotDNA "
            "has no option 'max_lenght'. Did you mean 'max_length'? Its options: max_length,",
        ),
        (
            ["--data.init_args.batch_size", "many"],
            "SequenceData's option 'batch_size' expects an int, got many",
        ),
    ],
)
def test_option_typo_on_the_command_line_is_one_line_with_the_closest_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], expected: str
) -> None:
    config = write_config(tmp_path)
    status, _, err = _run(["fit", "--config", str(config), *options], capsys)
    assert status == 2
    assert expected in _one_line_error(err)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "trainer:\n  max_epoch: 3\n",
            "unknown option trainer.max_epoch. Did you mean trainer.max_epochs?",
        ),
        (
            "trainer:\n  callbacks:\n    - class_path: lightning.pytorch.callbacks."
            "ModelCheckpoint\n      init_args:\n        monitr: val_loss\n",
            "ModelCheckpoint has no option 'monitr'. Did you mean 'monitor'?",
        ),
        (
            "model:\n  init_args:\n    adapter:\n      class_path: LinearMeanPoolAdapter\n"
            "      init_args:\n        dropot: 0.1\n",
            "The adapter LinearMeanPoolAdapter has no option 'dropot'.",
        ),
        (
            "trainer:\n  max_epochs: 3\n   foo: [1, 2\n",
            "extra.yaml line 3, column 7: malformed YAML",
        ),
        (
            "model:\n  init_args:\n    adapter:\n      class_path: LinearMeanPoolAdapter\n"
            "      init_args:\n",
            "extra.yaml line 5: `init_args:` of LinearMeanPoolAdapter is empty",
        ),
    ],
)
def test_config_file_mistakes_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], yaml_text: str, expected: str
) -> None:
    config = write_config(tmp_path)
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml_text)
    status, _, err = _run(["fit", "--config", str(config), "--config", str(extra)], capsys)
    assert status == 2
    assert expected in _one_line_error(err)


def test_missing_config_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(["check", "--config", str(tmp_path / "nope.yaml")], capsys)
    assert status == 2 and "nope.yaml not found" in _one_line_error(err)


def test_backbone_help_works_without_a_task(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(["fit", "--model.backbone.help", "ESM2"], capsys)
    assert status == 0
    assert "--backbone.model_path" in out and "--backbone.finetune" in out
    # the arguments the task fills in are not the user's to set
    assert "use_lm_head" not in out


def test_adapter_help_with_a_typo_suggests_the_class(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(["fit", "--model.adapter.help=MLPPoolAdaptr"], capsys)
    assert status == 2
    assert "Did you mean MLPPoolAdapter?" in _one_line_error(err)


def _run_without(module: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `mg ARGS` in a new process in which ``import MODULE`` fails, as if not installed."""
    code = (
        f"import sys\nsys.modules[{module!r}] = None\n"
        "from mg.cli.main import main\nsys.exit(main(sys.argv[1:]))"
    )
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)


def test_missing_optional_package_is_one_line_with_the_install_command(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = _run_without(
        "datasets",
        [
            "fit",
            "--config",
            str(config),
            "--data.init_args.train_file",
            "null",
            "--data.init_args.hf_dataset",
            str(tmp_path / "saved"),
        ],
    )
    assert result.returncode == 1
    assert "pip install 'mg-tasks[hf]'" in _one_line_error(result.stderr)
    assert not (tmp_path / "runs").exists()


def test_missing_pyarrow_for_parquet_predictions_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    output = tmp_path / "p.parquet"
    result = _run_without("pyarrow", ["predict", "--config", str(config), "--output", str(output)])
    assert result.returncode == 1
    assert re.search(r"pip install 'mg-\w+\[parquet\]'", _one_line_error(result.stderr))
    assert not output.exists()

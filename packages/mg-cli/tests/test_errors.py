"""Bad configs and bad data stop `mg` with one clear message, before weights load,
leaving no run folder behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_helpers import write_config, write_motif_csv

from mg.backbones import OneHotDNA
from mg.cli.main import main


@pytest.fixture
def no_weights_loaded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every backbone construction: a check that fires first leaves this empty."""
    built: list[str] = []
    original = OneHotDNA.__init__

    def spy(self: OneHotDNA, *args: object, **kwargs: object) -> None:
        built.append("OneHotDNA")
        original(self, *args, **kwargs)

    monkeypatch.setattr(OneHotDNA, "__init__", spy)
    return built


def _fails(args: list[str], capsys: pytest.CaptureFixture[str], code: int) -> str:
    with pytest.raises(SystemExit) as exit_info:
        status = main(args)
        raise SystemExit(status)
    assert exit_info.value.code == code
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        (
            "--model.adapter",
            "LinearCLSAdaptr",
            "Unknown adapter 'LinearCLSAdaptr'.*Did you mean LinearCLSAdapter",
        ),
        ("--model.backbone", "OneHotDN", "Unknown backbone 'OneHotDN'.*Did you mean OneHotDNA"),
        ("--model", "SequenceClasification", "Unknown task.*Did you mean SequenceClassification"),
        (
            "--model.adapter",
            "LinearTokenAdapter",
            r"SequenceClassification \+ LinearTokenAdapter.*subclasses SequenceAdapter"
            r".*is a TokenAdapter",
        ),
        ("--model.adapter", "OneHotDNA", "OneHotDNA is a backbone, not an adapter"),
        ("--model.init_args.n_clases", "3", "no option 'n_clases'.*Did you mean 'n_classes'"),
    ],
)
def test_config_mistakes_get_one_clear_message(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_weights_loaded: list[str],
    option: str,
    value: str,
    expected: str,
) -> None:
    config = write_config(tmp_path)
    err = _fails(["fit", "--config", str(config), option, value], capsys, code=2)
    assert re.search(expected, " ".join(err.split())), err
    assert err.count("error:") == 1 and "Traceback" not in err
    assert not no_weights_loaded and not (tmp_path / "runs").exists()


def test_incompatible_backbone_stops_before_weights_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_weights_loaded: list[str]
) -> None:
    config = write_config(
        tmp_path,
        **{"model.class_path": "MLM", "model.init_args": {"backbone": {"class_path": "OneHotDNA"}}},
    )
    err = _fails(["fit", "--config", str(config)], capsys, code=1)
    assert "MLM + OneHotDNA cannot work together" in err
    assert "masked-LM head" in err and "OneHotDNA has none" in err
    assert not no_weights_loaded and not (tmp_path / "runs").exists()


def test_missing_data_column_stops_before_weights_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_weights_loaded: list[str]
) -> None:
    config = write_config(tmp_path, **{"data.init_args.label_columns": None})
    err = _fails(["fit", "--config", str(config)], capsys, code=1)
    assert "'labels' column for fit" in err and "SequenceData" in err
    assert not no_weights_loaded and not (tmp_path / "runs").exists()


def test_bad_label_names_file_row_and_column_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_weights_loaded: list[str]
) -> None:
    config = write_config(tmp_path)
    write_motif_csv(tmp_path / "train.csv", 48, 0, bad_label_row=5)
    err = _fails(["fit", "--config", str(config)], capsys, code=1)
    assert "train.csv" in err and "row 6" in err and "label" in err and "7" in err
    assert not no_weights_loaded
    assert not any((tmp_path / "runs").rglob("*")), "a failed run left files behind"


def test_missing_data_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, **{"data.init_args.train_file": str(tmp_path / "nope.csv")})
    err = _fails(["fit", "--config", str(config)], capsys, code=1)
    assert "nope.csv" in err

"""`mg check` and `mg matrix`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_helpers import write_config

from mg.cli.main import main
from mg.core.registry import plugins


def test_check_accepts_a_good_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(write_config(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "SequenceClassification + OneHotDNA + LinearMeanPoolAdapter: compatible for fit" in out
    assert not (tmp_path / "runs").exists()


def test_check_reports_every_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(
        tmp_path,
        **{
            "model.class_path": "Diffusion",
            "model.init_args": {"backbone": {"class_path": "OneHotDNA"}},
        },
    )
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "Diffusion + OneHotDNA cannot work together" in err and "mask token" in err


def test_check_predict_stage_needs_no_labels(tmp_path: Path) -> None:
    config = write_config(tmp_path, **{"data.init_args.label_columns": None})
    assert main(["check", "--config", str(config)]) == 1
    assert main(["check", "--config", str(config), "--stage", "predict"]) == 0


def test_matrix_json_covers_every_registered_component(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["task"] for r in rows} == set(plugins("tasks"))
    assert {r["backbone"] for r in rows} == set(plugins("backbones"))
    assert {r["adapter"] for r in rows} - {None} == set(plugins("adapters"))
    incompatible = [r for r in rows if not r["compatible"]]
    assert incompatible and all(r["reasons"] for r in incompatible)
    mlm_onehot = next(r for r in rows if (r["task"], r["backbone"]) == ("MLM", "OneHotDNA"))
    assert not mlm_onehot["compatible"]


def test_matrix_markdown_is_a_table_with_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| Task | Adapters it takes | ✓ Backbones that fit |")
    assert "Why a backbone does not fit" in out
    # Each reason once, the backbones that share it pointing to its number.
    reasons = [line for line in out.splitlines() if re.match(r"\d+\. ", line)]
    assert reasons and len(reasons) == len(set(reasons))
    mlm = next(line for line in out.splitlines() if line.startswith("| MLM |"))
    assert re.search(r"OneHotDNA \[\d", mlm) and "OneHotProtein" in mlm.split("|")[4]


def test_check_names_a_bad_residue_in_the_last_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    train = tmp_path / "train.csv"
    lines = train.read_text().splitlines()
    last_id, sequence, label = lines[-1].split(",")
    lines[-1] = f"{last_id},{sequence[:-1]}-,{label}"
    train.write_text("\n".join(lines) + "\n")
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"train.csv, row {len(lines) - 1}, id '{last_id}'" in err
    assert f"'-' at position {len(sequence)}" in err

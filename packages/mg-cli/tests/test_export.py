"""`mg export`: a folder that predicts exactly as the checkpoint did, from the folder alone."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from cli_helpers import write_config

import mg.cli
from mg.cli.main import main


def _predict(config: Path, output: Path, *extra: str) -> list[dict[str, str]]:
    writer = {"class_path": "mg.cli.writer.PredictionWriter", "init_args": {"output": str(output)}}
    override = output.with_suffix(".yaml")
    override.write_text(yaml.safe_dump({"trainer": {"callbacks": [writer]}}))
    assert main(["predict", "--config", str(config), "--config", str(override), *extra]) == 0
    with output.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("export")
    config = write_config(
        folder,
        **{
            "trainer.max_epochs": 2,
            "model.init_args.backbone": {
                "class_path": "BertDNATiny",
                "init_args": {"finetune": "lora", "lora_r": 4},
            },
        },
    )
    assert main(["fit", "--config", str(config)]) == 0
    output = folder / "exported"
    assert (
        main(["export", "--config", str(config), "--ckpt_path", "best", "--output", str(output)])
        == 0
    )
    return folder, config, output


def test_export_holds_a_hugging_face_backbone_safetensors_and_a_config(exported) -> None:
    _, _, output = exported
    assert (output / "backbone" / "config.json").exists()
    assert (output / "backbone" / "model.safetensors").exists()
    from safetensors.torch import load_file

    weights = load_file(output / "weights.safetensors")
    assert weights and all(k.startswith("adapter.") for k in weights), list(weights)
    slim = torch.load(output / "model.ckpt", weights_only=True)
    assert set(slim["state_dict"]) == set(weights)
    backbone = yaml.safe_load((output / "config.yaml").read_text())["model"]["init_args"][
        "backbone"
    ]
    assert backbone["class_path"].endswith("BertDNA")
    assert backbone["init_args"]["model_path"] == "backbone"  # relative: the export moves
    assert "finetune" not in backbone["init_args"]  # LoRA is merged into the weights
    record = json.loads((output / "export.json").read_text())
    assert record["task"].endswith("SequenceClassification")
    assert Path(record["checkpoint"]).name.startswith("best-")


def test_predictions_from_the_export_alone_equal_those_from_the_checkpoint(
    exported, tmp_path: Path
) -> None:
    folder, config, output = exported
    best = next((folder / "runs" / "test").rglob("best-*.ckpt"))
    expected = _predict(config, tmp_path / "from_ckpt.tsv", "--ckpt_path", str(best))
    # The export alone: the training folder (checkpoints, config) is gone.
    moved = tmp_path / "only_the_export"
    shutil.copytree(output, moved)
    exported_config = moved / "config.yaml"
    (folder / "runs").rename(folder / "hidden")
    try:
        got = _predict(
            exported_config,
            tmp_path / "from_export.tsv",
            "--data.init_args.predict_file",
            str(folder / "val.csv"),
        )
    finally:  # the predict run wrote its own run record under runs/
        shutil.rmtree(folder / "runs", ignore_errors=True)
        (folder / "hidden").rename(folder / "runs")
    assert [r["ids"] for r in got] == [r["ids"] for r in expected]
    for mine, theirs in zip(got, expected, strict=True):
        for column in ("probabilities_0", "probabilities_1"):
            assert float(mine[column]) == pytest.approx(float(theirs[column]), abs=1e-5)

    task = mg.cli.load(moved)
    batch = task.collate([{"sequences": "ACGTTATAATCCGGACGTACGTAC", "ids": "x"}])
    with torch.no_grad():
        probabilities = task.predict_step(batch, 0)["probabilities"]
    assert probabilities.shape == (1, 2)
    assert float(probabilities.sum()) == pytest.approx(1.0)


def test_loading_a_folder_that_is_no_export_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="give a folder that `mg export` wrote"):
        mg.cli.load(tmp_path)


def test_push_to_hub_without_network_fails_clearly_and_keeps_the_export(
    exported, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, config, _ = exported
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    output = config.parent / "pushed"
    status = main(
        [
            "export",
            "--config",
            str(config),
            "--ckpt_path",
            "last",
            "--output",
            str(output),
            "--push-to-hub",
            "someone/motif-model",
        ]
    )
    assert status == 1
    error = capsys.readouterr().err
    assert "Could not push" in error and "'someone/motif-model'" in error
    assert "push it later with `hf upload someone/motif-model" in error
    assert (output / "weights.safetensors").exists()

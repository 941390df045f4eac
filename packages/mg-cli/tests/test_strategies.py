"""BackboneFSDPStrategy: which modules it wraps, what it refuses, and a sharded fit."""

from __future__ import annotations

import csv
import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from cli_helpers import write_motif_csv

from mg.adapters import LinearMeanPoolAdapter
from mg.backbones import BertDNATiny, ESM2Tiny, OneHotDNA
from mg.cli.main import main
from mg.cli.strategies import BackboneFSDPStrategy, BackboneWrapPolicy, backbone_layer_classes
from mg.tasks import SequenceClassification

TESTS = Path(__file__).parent


def _task(backbone: type, **options: object) -> SequenceClassification:
    task = SequenceClassification(
        backbone=functools.partial(backbone, **options),
        adapter=LinearMeanPoolAdapter,
        n_classes=2,
    )
    task.configure_model()
    return task


def _wrapped(policy: BackboneWrapPolicy, task: torch.nn.Module) -> set[str]:
    return {n for n, m in task.named_modules() if n and policy(m, False, 0)}


class _Sharded(BackboneFSDPStrategy):
    """The strategy as it sees itself on one of several processes."""

    @property
    def world_size(self) -> int:
        return 2


@pytest.mark.parametrize("backbone", [ESM2Tiny, BertDNATiny])
def test_policy_wraps_each_backbone_layer(backbone: type) -> None:
    task = _task(backbone, num_layers=3)
    policy = _Sharded().wrap_policy(task)
    layers = {f"backbone.model.encoder.layer.{i}" for i in range(3)}
    assert _wrapped(policy, task) == layers
    assert policy(task, True, 0), "FSDP must look inside every module"


@pytest.mark.parametrize("backbone", [ESM2Tiny, BertDNATiny])
def test_policy_with_lora_keeps_frozen_and_trainable_weights_apart(backbone: type) -> None:
    task = _task(backbone, num_layers=2, finetune="lora")
    wrapped = _wrapped(_Sharded().wrap_policy(task), task)
    layers = {f"backbone.model.encoder.layer.{i}" for i in range(2)}
    assert layers <= wrapped
    modules = dict(task.named_modules())
    # Besides the layers, only the LoRA weights inside them, each module its own unit.
    for name in wrapped - layers:
        assert name.startswith("backbone.model.encoder.layer.") and ".lora_" in name, name
        assert all(p.requires_grad for p in modules[name].parameters()), name
    lora = {n.rsplit(".", 1)[0] for n, p in task.named_parameters() if ".lora_" in n}
    assert lora == wrapped - layers
    assert any(".lora_A." in name for name in wrapped)
    # Inside a layer unit, after its trainable leaves have their own units, all is frozen.
    for layer in layers:
        rest = [
            p
            for n, p in modules[layer].named_parameters()
            if not any(f"{layer}.{n}".startswith(w + ".") for w in wrapped - {layer})
        ]
        assert rest and not any(p.requires_grad for p in rest)


def test_layer_classes_of_a_task() -> None:
    from transformers.models.esm.modeling_esm import EsmLayer

    assert backbone_layer_classes(_task(ESM2Tiny)) == {EsmLayer}


def test_a_backbone_without_layers_is_refused() -> None:
    task = _task(OneHotDNA)
    with pytest.raises(ValueError, match=r"OneHotDNA has no repeated layers.*strategy ddp"):
        _Sharded().wrap_policy(task)


def test_frozen_weights_on_one_process_are_refused() -> None:
    task = _task(BertDNATiny, finetune="lora")
    with pytest.raises(ValueError, match=r"On one device leave --trainer\.strategy at its default"):
        BackboneFSDPStrategy().wrap_policy(task)
    with pytest.raises(ValueError, match="NO_SHARD"):
        _Sharded(sharding_strategy="NO_SHARD").wrap_policy(task)
    # Full fine-tuning has no frozen weights: one process is allowed (a smoke test).
    assert BackboneFSDPStrategy().wrap_policy(_task(BertDNATiny))


def test_options_the_strategy_owns_are_refused() -> None:
    with pytest.raises(ValueError, match="sets use_orig_params itself"):
        BackboneFSDPStrategy(fsdp_options={"use_orig_params": False})
    strategy = BackboneFSDPStrategy(fsdp_options={"limit_all_gathers": True})
    assert strategy.kwargs["limit_all_gathers"] is True
    assert strategy.kwargs["use_orig_params"] is True
    assert strategy.kwargs["sync_module_states"] is True


@pytest.mark.parametrize(
    "strategy",
    [
        "backbone_fsdp",
        {
            "class_path": "BackboneFSDPStrategy",
            "init_args": {"sharding_strategy": "SHARD_GRAD_OP"},
        },
    ],
)
def test_the_cli_resolves_the_strategy(
    strategy: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {"trainer": {"strategy": strategy}}
    path = tmp_path / "fsdp.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as done:
        main(["fit", "--config", str(path), "--print_config"])
    assert done.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)["trainer"]["strategy"]
    if isinstance(strategy, str):
        assert printed == "backbone_fsdp"
    else:
        assert printed["class_path"] == "mg.cli.strategies.BackboneFSDPStrategy"
        assert printed["init_args"]["sharding_strategy"] == "SHARD_GRAD_OP"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "mg.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=900,
    )


def test_two_process_sharded_lora_fit_on_cpu(tmp_path: Path) -> None:
    """FULL_SHARD over two gloo processes; the checkpoint serves a plain one-device predict."""
    train = write_motif_csv(tmp_path / "train.csv", 24, 0)
    val = write_motif_csv(tmp_path / "val.csv", 8, 1)
    units = tmp_path / "units.json"
    config = {
        "trainer": {
            "accelerator": "cpu",
            "devices": 2,
            "strategy": "backbone_fsdp",
            "max_epochs": 1,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "callbacks": [
                {"class_path": "fsdp_probe.RecordFSDPUnits", "init_args": {"path": str(units)}},
                {
                    "class_path": "mg.cli.callbacks.BestAndLastCheckpoint",
                    "init_args": {"monitor": "val_loss", "mode": "min"},
                },
            ],
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp_path / "runs"), "name": "fsdp"},
            },
        },
        "model": {
            "class_path": "SequenceClassification",
            "init_args": {
                "backbone": {"class_path": "BertDNATiny", "init_args": {"finetune": "lora"}},
                "adapter": "LinearMeanPoolAdapter",
            },
        },
        "data": {
            "class_path": "SequenceData",
            "init_args": {
                "train_file": str(train),
                "val_file": str(val),
                "predict_file": str(val),
                "label_columns": "label",
                "batch_size": 4,
            },
        },
    }
    path = tmp_path / "fsdp.yaml"
    path.write_text(yaml.safe_dump(config))
    fit = _run(["fit", "--config", str(path)], tmp_path)
    assert fit.returncode == 0, fit.stderr[-4000:]

    wrapped = set(json.loads(units.read_text()))
    assert {"backbone.model.encoder.layer.0", "backbone.model.encoder.layer.1"} <= wrapped
    assert "backbone.model.encoder.layer.0.attention.self.query.lora_A.default" in wrapped
    assert not any("embeddings" in name for name in wrapped)

    last = next((tmp_path / "runs").rglob("last.ckpt"))
    state = torch.load(last, map_location="cpu", weights_only=True)["state_dict"]
    # One full file with clean names, LoRA-slim: frozen backbone weights are left out.
    assert any(".lora_B." in key for key in state)
    assert not any("_fsdp" in key or "flat_param" in key for key in state)
    assert not any(key.endswith("query.base_layer.weight") for key in state)
    assert any(state[k].abs().sum() > 0 for k in state if ".lora_B." in k), "LoRA did not train"

    # The slim checkpoint resumes under FSDP too, into the same run.
    resume = _run(
        ["fit", "--config", str(path), "--ckpt_path", "last", "--trainer.max_epochs", "2"], tmp_path
    )
    assert resume.returncode == 0, resume.stderr[-4000:]
    resumed = torch.load(last, map_location="cpu", weights_only=True)
    assert resumed["epoch"] == 1
    assert any(not torch.equal(resumed["state_dict"][k], v) for k, v in state.items())

    output = tmp_path / "predictions.tsv"
    writer = {"class_path": "mg.cli.writer.PredictionWriter", "init_args": {"output": str(output)}}
    plain = tmp_path / "plain.yaml"
    plain.write_text(
        yaml.safe_dump({"trainer": {"devices": 1, "strategy": "auto", "callbacks": [writer]}})
    )
    predict = _run(
        ["predict", "--config", str(path), "--config", str(plain), "--ckpt_path", str(last)],
        tmp_path,
    )
    assert predict.returncode == 0, predict.stderr[-4000:]
    rows = list(csv.DictReader(output.open(), delimiter="\t"))
    assert sorted(r["ids"] for r in rows) == sorted(f"s1_{i}" for i in range(8))

"""Full, frozen and LoRA fine-tuning, and the slim checkpoints of the last two."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from backbone_toys import MeanPoolRegression, TinyFolders, gc_data

from mg.backbones import (
    ESM2,
    ESMC,
    AIDODNATiny,
    AIDOProtein,
    AIDOProteinTiny,
    BertRNATiny,
    ESM2Tiny,
    ESMCTiny,
    HFBackbone,
    NucleotideTransformerTiny,
)
from mg.core.testing.contracts import fast_trainer

ADAMW = functools.partial(torch.optim.AdamW, lr=1e-2)


def _task(backbone: Any) -> MeanPoolRegression:
    task = MeanPoolRegression(backbone, optimizer=ADAMW)
    task.configure_model()
    return task


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> set[str]:
    return {n for n, p in module.named_parameters() if not torch.equal(before[n], p.detach())}


def _predictions(task: MeanPoolRegression, data: Any, **kwargs: Any) -> torch.Tensor:
    batches = fast_trainer().predict(task, datamodule=data, **kwargs)
    return torch.cat([batch["predictions"] for batch in batches])


def _fit_and_checkpoint(task: MeanPoolRegression, data: Any, path: Path) -> dict[str, Any]:
    trainer = fast_trainer(max_steps=4)
    trainer.fit(task, datamodule=data)
    trainer.save_checkpoint(path)
    return torch.load(path, weights_only=False)


def test_frozen_backbone_weights_stay_put_and_checkpoint_holds_only_the_head(
    tmp_path: Path,
) -> None:
    make = functools.partial(
        ESM2Tiny, finetune="frozen", config_overwrites={"hidden_dropout_prob": 0.5}
    )  # dropout a frozen backbone must not apply
    task, data = _task(make), gc_data()
    backbone_before, head_before = _snapshot(task.backbone), _snapshot(task.adapter)
    assert not any(p.requires_grad for p in task.backbone.parameters())
    checkpoint = _fit_and_checkpoint(task, data, tmp_path / "frozen.ckpt")
    assert not _changed(backbone_before, task.backbone)
    assert _changed(head_before, task.adapter) == set(head_before)
    task.train()
    assert task.adapter.training and not task.backbone.model.training
    assert not [k for k in checkpoint["state_dict"] if k.startswith("backbone.")]
    assert checkpoint["mg"]["omitted_keys"]
    before = _predictions(task, data)
    after = _predictions(_task(make), data, ckpt_path=tmp_path / "frozen.ckpt")
    assert torch.equal(before, after)


def test_full_finetuning_trains_the_backbone_and_keeps_it_in_the_checkpoint(
    tmp_path: Path,
) -> None:
    task, data = _task(BertRNATiny), gc_data("ACGU")
    before = _snapshot(task.backbone)
    checkpoint = _fit_and_checkpoint(task, data, tmp_path / "full.ckpt")
    assert _changed(before, task.backbone)
    backbone_keys = {k for k in checkpoint["state_dict"] if k.startswith("backbone.")}
    assert {"backbone." + n for n in before} <= backbone_keys
    assert checkpoint["mg"]["omitted_keys"] == []


def _lora_cases(folders: TinyFolders) -> dict[str, Any]:
    return {
        # The path a user takes with published weights: a folder through model_path.
        "ESM2": functools.partial(ESM2, model_path=str(folders(ESM2Tiny)), finetune="lora"),
        "NucleotideTransformerTiny": functools.partial(
            NucleotideTransformerTiny, finetune="lora", lora_r=4, lora_alpha=8
        ),
        "AIDODNATiny": functools.partial(AIDODNATiny, finetune="lora"),
        # AIDO.Protein reads protein letters; A, C, G and T are amino acids too.
        "AIDOProtein": functools.partial(
            AIDOProtein, model_path=str(folders(AIDOProteinTiny)), finetune="lora"
        ),
        "ESMC": functools.partial(ESMC, model_path=str(folders(ESMCTiny)), finetune="lora"),
    }


@pytest.mark.parametrize(
    "case", ["ESM2", "NucleotideTransformerTiny", "AIDODNATiny", "AIDOProtein", "ESMC"]
)
def test_lora_trains_only_lora_weights_and_the_slim_checkpoint_reloads_exactly(
    case: str, tiny_folders: TinyFolders, tmp_path: Path
) -> None:
    make = _lora_cases(tiny_folders)[case]
    task, data = _task(make), gc_data()
    backbone_before, head_before = _snapshot(task.backbone), _snapshot(task.adapter)
    lora = {n for n, p in task.backbone.named_parameters() if p.requires_grad}
    assert lora and all(".lora_A." in n or ".lora_B." in n for n in lora)
    targets = type(task.backbone).lora_target_modules  # the family's default targets
    assert all(any(f".{t}." in n for t in targets) for n in lora)
    checkpoint = _fit_and_checkpoint(task, data, tmp_path / "lora.ckpt")

    changed = _changed(backbone_before, task.backbone)
    assert changed and changed <= lora
    assert any(".lora_B." in n for n in changed)  # B starts at zero, so the update is live
    assert _changed(head_before, task.adapter)

    saved = {k for k in checkpoint["state_dict"] if k.startswith("backbone.")}
    assert saved == {"backbone." + n for n in lora}
    before = _predictions(task, data)
    after = _predictions(_task(make), data, ckpt_path=tmp_path / "lora.ckpt")
    assert torch.equal(before, after)


def test_lora_backbone_saves_with_updates_merged(tmp_path: Path) -> None:
    backbone = ESM2Tiny(finetune="lora", lora_dropout=0.0)
    with torch.no_grad():
        for name, parameter in backbone.named_parameters():
            if ".lora_B." in name:
                parameter.normal_(std=0.5)  # as if trained
    backbone.eval().save_pretrained(tmp_path)
    loaded = ESM2(model_path=str(tmp_path)).eval()
    assert not any("lora" in name for name, _ in loaded.named_parameters())
    batch = backbone.batch(["MKTAYIAKQRQ", "MKV"])
    with torch.no_grad():
        expected = backbone(batch.input_ids, batch.attention_mask).last_hidden_state
        merged = loaded(batch.input_ids, batch.attention_mask).last_hidden_state
        plain = ESM2Tiny().eval()(batch.input_ids, batch.attention_mask).last_hidden_state
    mask = batch.attention_mask
    torch.testing.assert_close(merged[mask], expected[mask], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(plain[mask], expected[mask], atol=1e-3)


def test_lora_settings_reach_the_layers() -> None:
    backbone = ESM2Tiny(finetune="lora", lora_r=3, lora_target_modules=["key"])
    shapes = {n: tuple(p.shape) for n, p in backbone.named_parameters() if p.requires_grad}
    assert shapes and all(".key.lora_" in n for n in shapes)
    assert all(3 in shape for shape in shapes.values())


def test_lora_without_peft_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "peft", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'mg-backbones\[peft\]'"):
        ESM2Tiny(finetune="lora")


def test_lora_targets_that_match_nothing_list_the_layers_there_are() -> None:
    with pytest.raises(ValueError, match=r"lora_target_modules=\['attn'\].*'query'"):
        ESM2Tiny(finetune="lora", lora_target_modules=["attn"])


def test_generic_backbone_without_known_targets_asks_for_them(tiny_folders: TinyFolders) -> None:
    # peft has no default targets for ESM; HFBackbone has no family default.
    with pytest.raises(ValueError, match="Set lora_target_modules"):
        HFBackbone(model_path=str(tiny_folders(ESM2Tiny)), finetune="lora")
    backbone = HFBackbone(
        model_path=str(tiny_folders(ESM2Tiny)),
        finetune="lora",
        lora_target_modules=["query", "value"],
    )
    assert any(p.requires_grad for p in backbone.parameters())

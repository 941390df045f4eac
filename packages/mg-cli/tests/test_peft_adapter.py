"""PEFT-format adapters through the command: `mg fit` writes one that PEFT loads, and a
new run starts from it with `lora_options.init_from`, giving PEFT's outputs."""

from __future__ import annotations

from pathlib import Path

import peft
import pytest
import torch
from cli_helpers import write_config

from mg.backbones import BertDNATiny
from mg.cli.main import main

LORA = {"class_path": "BertDNATiny", "init_args": {"finetune": "lora"}}


def _hidden(model: torch.nn.Module, backbone: BertDNATiny) -> torch.Tensor:
    # Two sequences of the same length: no padding to mask.
    ids = torch.tensor(backbone.tokenize(["ACGTACGTAC", "TTGACATTGA"]))
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state


@pytest.mark.parametrize("use_dora", [False, True])
def test_fit_writes_a_peft_adapter_and_init_from_starts_from_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], use_dora: bool
) -> None:
    backbone = {**LORA, "init_args": {**LORA["init_args"], "lora_options": {"use_dora": use_dora}}}
    config = write_config(
        tmp_path,
        **{
            "model.init_args.backbone": backbone,
            "model.init_args.optimizer": {
                "class_path": "torch.optim.AdamW",
                "init_args": {"lr": 0.05},
            },
        },
    )
    assert (
        main(
            [
                "fit",
                "--config",
                str(config),
                "--trainer.callbacks+=mg.cli.peft_adapter.SavePeftAdapter",
            ]
        )
        == 0
    )
    (folder,) = (tmp_path / "runs" / "test").glob("version_*/peft_adapter")
    assert f"PEFT adapter: {folder}" in capsys.readouterr().err

    # PEFT loads it onto the base model.
    plain = BertDNATiny()
    via_peft = peft.PeftModel.from_pretrained(BertDNATiny().model, str(folder)).eval()
    expected = _hidden(via_peft, plain)
    assert not torch.allclose(expected, _hidden(plain.model.eval(), plain), atol=1e-4)

    # mg starts from it: the same outputs as PEFT's.
    started = BertDNATiny(finetune="lora", lora_options={"init_from": str(folder)})
    started.eval()
    torch.testing.assert_close(_hidden(started.model, started), expected, rtol=1e-5, atol=1e-6)
    said = capsys.readouterr().err
    assert f"LoRA from {folder}" in said and f"use_dora={use_dora}" in said

    # And through a config: a run with init_from trains on from the adapter.
    init = {**LORA, "init_args": {**LORA["init_args"], "lora_options": {"init_from": str(folder)}}}
    second = tmp_path / "second"
    second.mkdir()
    config = write_config(second, **{"model.init_args.backbone": init})
    assert main(["fit", "--config", str(config)]) == 0
    assert f"LoRA from {folder}" in capsys.readouterr().err

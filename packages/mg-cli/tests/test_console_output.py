"""What a user sees: the quickstart prints only mg's own lines, and real problems still show.

The fit and test below run the documented commands (`mg init`, then `mg fit` and `mg test`
on its config) with the output piped, as in a log file or CI. Every line must match one of
the allowed forms, so Lightning's or transformers' status lines cannot creep back.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoModel, BertConfig, BertForMaskedLM, BertModel

from mg.cli.console import quiet_third_party
from mg.cli.starter import write_starter

NUMBER = r"-?\d+(\.\d+)?(e[-+]\d+)?|nan"
METRICS = rf"(\w+ ({NUMBER}), )*\w+ ({NUMBER})"
ALLOWED = [
    r"Model: backbone BertDNATiny 29\.9 K, adapter ResNet1DAdapter 85\.1 K; 114 K parameters, "
    r"all trainable\.",
    rf"Epoch 1/1: {METRICS}",
    r"Finished 1 epoch\.",
    rf"Validation after the last epoch: {METRICS}",
    r"Best checkpoint: .*best-epoch=00\.ckpt",
    r"Last checkpoint: .*last\.ckpt",
    r"Using the best checkpoint .*best-epoch=00\.ckpt",
    rf"Test metrics: {METRICS}",
]


def _mg(folder: Path, *args: str) -> list[str]:
    """Run ``mg ARGS`` in ``folder`` with its output piped; return stdout + stderr lines."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mg.cli", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return (result.stdout + result.stderr).splitlines()


def test_quickstart_fit_and_test_print_only_mgs_lines(tmp_path: Path) -> None:
    write_starter(tmp_path)
    lines = _mg(tmp_path, "fit", "--config", "quickstart.yaml", "--trainer.max_epochs", "1")
    lines += _mg(tmp_path, "test", "--config", "quickstart.yaml", "--ckpt_path", "best")
    unexpected = [line for line in lines if not any(re.fullmatch(a, line) for a in ALLOWED)]
    assert not unexpected, "lines outside the allowed set:\n" + "\n".join(unexpected)
    assert any(line.startswith("Epoch 1/1: train_loss ") for line in lines), lines
    (test_line,) = [line for line in lines if line.startswith("Test metrics: ")]
    for value in re.findall(r" (\d\.\d+)", test_line):
        assert len(value.rstrip("0").split(".")[1]) <= 4, test_line  # 0.95, not 0.9499999


def _tiny_bert(folder: Path, head: bool) -> Path:
    config = BertConfig(
        vocab_size=16, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=32,
    )  # fmt: skip
    (BertForMaskedLM if head else BertModel)(config).save_pretrained(folder)
    return folder


def test_headless_load_of_a_masked_lm_is_quiet_but_missing_weights_still_show(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    quiet_third_party()
    # Transformers' own handler keeps the stderr of whichever test configured it first;
    # this one sees everything that reaches transformers' handlers during this test.
    seen = io.StringIO()
    handler = logging.StreamHandler(seen)
    library = logging.getLogger("transformers")
    library.addHandler(handler)
    try:
        # As mg loads a backbone: the encoder alone, from a checkpoint with an MLM head.
        AutoModel.from_pretrained(_tiny_bert(tmp_path / "mlm", head=True), add_pooling_layer=False)
        printed = capfd.readouterr()
        assert "LOAD REPORT" not in printed.err + printed.out + seen.getvalue()
        assert "Loading weights" not in printed.err + printed.out

        # A model whose head is missing from the checkpoint gets random weights: that
        # report stays.
        BertForMaskedLM.from_pretrained(_tiny_bert(tmp_path / "bare", head=False))
        shown = seen.getvalue()
    finally:
        library.removeHandler(handler)
    assert "LOAD REPORT" in shown and "MISSING" in shown

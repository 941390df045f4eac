"""MLM (masking, learning) and Inference (reading the LM head)."""

from __future__ import annotations

from collections import Counter
from functools import partial

import pytest
import torch
from task_helpers import (
    adam,
    column,
    data_from,
    predict,
    run_samples,
    tiny_backbone,
    train,
)

from mg.core.testing import InMemoryData
from mg.core.testing.contracts import fast_trainer
from mg.tasks import MLM, Inference
from mg.tasks.masking import mask_for_mlm

# ----------------------------------------------------------------- masking


def _batch(n: int = 200):
    task = MLM(tiny_backbone)
    task.configure_model()
    return task, task.collate(run_samples(n, 5))


def test_masking_never_touches_special_tokens_or_padding() -> None:
    _, batch = _batch()
    residues = batch["attention_mask"] & ~batch["special_tokens_mask"]
    corrupted, targets = mask_for_mlm(
        batch["input_ids"], residues, mask_rate=0.5, mask_id=4, replacement_ids=[5, 6, 7, 8]
    )
    chosen = targets != -100
    assert not (chosen & ~residues).any()
    assert torch.equal(corrupted[~residues], batch["input_ids"][~residues])
    assert chosen.any(1).all()  # at least one position per item


def test_chosen_positions_are_masked_randomized_or_kept_80_10_10() -> None:
    _, batch = _batch(400)
    residues = batch["attention_mask"] & ~batch["special_tokens_mask"]
    torch.manual_seed(0)
    corrupted, targets = mask_for_mlm(
        batch["input_ids"], residues, mask_rate=0.3, mask_id=4, replacement_ids=[5, 6, 7, 8]
    )
    chosen = targets != -100
    rate = chosen.sum() / residues.sum()
    assert 0.27 < rate < 0.33
    masked = (corrupted[chosen] == 4).float().mean()
    same = (corrupted[chosen] == targets[chosen]).float().mean()
    assert 0.77 < masked < 0.83
    # Kept: 10%, plus a random replacement that happens to draw the same residue (10% / 4).
    assert 0.10 < same < 0.15


def test_evaluation_masks_are_seeded_per_item() -> None:
    task, batch = _batch(6)
    task.eval()
    with torch.no_grad():
        together = task(batch)["targets"]
        alone = task(task.collate(run_samples(6, 5)[2:3]))["targets"]
        again = task(batch)["targets"]
    n = alone.shape[1]
    assert torch.equal(together[2, :n], alone[0])
    assert torch.equal(together, again)


# ----------------------------------------------------------------- learning


def test_mlm_beats_the_unigram_baseline() -> None:
    # Hidden size 32: 16 learns to copy a neighbour too slowly for a quick test.
    task = MLM(partial(tiny_backbone, hidden_size=32), mask_rate=0.3, optimizer=adam(3e-3))
    data = data_from(run_samples, n_train=256)
    metrics = train(task, data, epochs=8)
    counts = Counter("".join(s["sequences"] for s in run_samples(24, 2)))
    unigram = max(counts.values()) / sum(counts.values())
    assert metrics["test_accuracy"] > unigram + 0.2, (metrics, unigram)


def test_mlm_predicts_the_best_residue_everywhere() -> None:
    task = MLM(tiny_backbone)
    samples = [{"ids": "a", "sequences": "ACGTAC"}, {"ids": "b", "sequences": "GG"}]
    batches = predict(task, InMemoryData(predict=samples))
    tokens, sequences = column(batches), column(batches, "sequences")
    assert [t.shape for t in tokens] == [(6,), (2,)]
    assert [len(s) for s in sequences] == [6, 2] and set("".join(sequences)) <= set("ACGT")


def test_mask_rate_is_checked() -> None:
    with pytest.raises(ValueError, match=r"mask_rate must be in \(0, 1\]"):
        MLM(tiny_backbone, mask_rate=0.0)


# ----------------------------------------------------------------- inference


def test_inference_gives_per_token_probabilities_trimmed_to_each_item() -> None:
    task = Inference(tiny_backbone)
    samples = [{"ids": "a", "sequences": "ACGTAC"}, {"ids": "b", "sequences": "GG"}]
    batches = predict(task, InMemoryData(predict=samples))
    probabilities = column(batches)
    vocab = 9  # 5 special tokens and ACGT
    assert [p.shape for p in probabilities] == [(6, vocab), (2, vocab)]
    for p in probabilities:
        torch.testing.assert_close(p.sum(-1), torch.ones(len(p)))
    assert set("".join(column(batches, "sequences"))) <= set("ACGT")


def test_inference_outputs_logits_or_tokens() -> None:
    samples = [{"ids": "a", "sequences": "ACGTAC"}]
    logits = column(
        predict(Inference(tiny_backbone, output="logits"), InMemoryData(predict=samples))
    )[0]
    tokens = column(
        predict(Inference(tiny_backbone, output="tokens"), InMemoryData(predict=samples))
    )[0]
    alphabet = torch.tensor([5, 6, 7, 8])
    assert torch.equal(tokens, alphabet[logits[:, alphabet].argmax(-1)])
    with pytest.raises(ValueError, match="output must be"):
        Inference(tiny_backbone, output="embeddings")  # type: ignore[arg-type]


def test_inference_reads_an_mlm_checkpoint(tmp_path) -> None:
    mlm = MLM(tiny_backbone, optimizer=adam(1e-2))
    data = data_from(run_samples, n_train=16, n_eval=6)
    trainer = fast_trainer(max_steps=3, limit_val_batches=0)
    trainer.fit(mlm, datamodule=data)
    path = tmp_path / "mlm.ckpt"
    trainer.save_checkpoint(path)
    expected = column(predict(mlm, data))
    loaded = column(predict(Inference(tiny_backbone, output="tokens"), data, ckpt_path=path))
    assert all(torch.equal(a, b) for a, b in zip(expected, loaded, strict=True))
    fresh = column(predict(Inference(tiny_backbone, output="tokens"), data))
    assert not all(torch.equal(a, b) for a, b in zip(expected, fresh, strict=True))

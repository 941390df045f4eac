"""Geneformer: rank-value tokenization from safely read dictionaries, and the BERT model."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from mg.backbones.cells.dictionaries import read_dictionary
from mg.backbones.cells.geneformer import Geneformer, GeneformerTiny, RankValueTokenizer

TOKENS = {"<pad>": 0, "<mask>": 1, "<cls>": 2, "<eos>": 3}
GENES = ["ENSG00000000001", "ENSG00000000002", "ENSG00000000003", "ENSG00000000004"]
TOKENS.update({g: 4 + i for i, g in enumerate(GENES)})  # A=4, B=5, C=6, D=7
MEDIANS = dict(zip(GENES, [2.0, 0.5, 1.0, 4.0], strict=True))
# Cell 1: A=6, B=1, C=0, D=20. Per median: A 3, B 2, C not expressed, D 5 -> D, A, B.
# Cell 2: A=0, B=3, C=2, D=1. Per median: B 6, C 2, D 0.25 -> B, C, D.
# (Scaling by the cell's total and 1e4 multiplies a whole row: the order stays.)
COUNTS = np.array([[6.0, 1.0, 0.0, 20.0], [0.0, 3.0, 2.0, 1.0]])


def write_geneformer_pickles(folder: Path) -> None:
    """Write the dictionaries the way Geneformer ships them: pickles, numpy medians."""
    medians = {g: np.float64(m) for g, m in MEDIANS.items()}
    (folder / "token_dictionary.pkl").write_bytes(pickle.dumps(TOKENS))
    (folder / "gene_median_dictionary.pkl").write_bytes(pickle.dumps(medians))


def test_rank_value_tokens_match_the_worked_example(tmp_path: Path) -> None:
    write_geneformer_pickles(tmp_path)
    tokenizer = RankValueTokenizer.from_files(
        tmp_path / "token_dictionary.pkl", tmp_path / "gene_median_dictionary.pkl", 16
    )
    assert tokenizer.special_tokens  # the dictionary has <cls> and <eos>: version 2
    assert tokenizer.rank(COUNTS) == [[2, 7, 4, 5, 3], [2, 5, 6, 7, 3]]
    cut = RankValueTokenizer(TOKENS, MEDIANS, max_length=4)
    assert cut.rank(COUNTS) == [[2, 7, 4, 3], [2, 5, 6, 3]]  # the top genes survive the cut
    version_1 = RankValueTokenizer(TOKENS, MEDIANS, max_length=16, special_tokens=False)
    assert version_1.rank(COUNTS * 7.0) == [[7, 4, 5], [5, 6, 7]]  # depth does not matter
    batch = tokenizer.batch(torch.tensor([[0.0, 0.0, 0.0, 5.0], COUNTS[0].tolist()]))
    assert batch.input_ids.tolist() == [[2, 7, 3, 0, 0], [2, 7, 4, 5, 3]]
    assert batch.attention_mask.tolist()[0] == [True, True, True, False, False]
    assert batch.special_tokens_mask.tolist()[1] == [True, False, False, False, True]


class _RunsCode:
    def __reduce__(self) -> tuple:
        import os

        return (os.system, ("touch pwned",))


def test_a_pickle_that_would_run_code_is_refused_without_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "token_dictionary.pkl"
    evil.write_bytes(pickle.dumps({"ENSG00000000001": _RunsCode()}))
    with pytest.raises(ValueError, match=r"token_dictionary\.pkl asks to build .*system"):
        read_dictionary(evil)
    assert not (tmp_path / "pwned").exists()
    text = tmp_path / "genes.pkl"
    text.write_bytes(pickle.dumps({"ENSG00000000001": "4"}))
    with pytest.raises(ValueError, match="maps to '4', not a number"):
        read_dictionary(text)


def test_tiny_geneformer_padding_and_batch_mates_do_not_change_a_cell() -> None:
    backbone = GeneformerTiny(genes=GENES, medians=list(MEDIANS.values())).eval()
    short = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    both = backbone.batch_cells(torch.cat([short, torch.tensor(COUNTS[:1], dtype=torch.float)]))
    alone = backbone.batch_cells(short)
    with torch.no_grad():
        together = backbone(both.input_ids, both.attention_mask).last_hidden_state
        single = backbone(alone.input_ids, alone.attention_mask).last_hidden_state
    width = alone.input_ids.shape[1]
    torch.testing.assert_close(together[0, :width], single[0], atol=1e-5, rtol=0)


def test_geneformer_loads_a_saved_folder_with_pickled_dictionaries(tmp_path: Path) -> None:
    tiny = GeneformerTiny(genes=GENES, medians=list(MEDIANS.values()), finetune="frozen")
    tiny.model.save_pretrained(tmp_path)
    write_geneformer_pickles(tmp_path)
    declared = Geneformer.declared_gene_vocabulary({"model_path": str(tmp_path)})
    assert declared is not None and declared.genes == tuple(GENES)  # read before the model
    loaded = Geneformer(model_path=str(tmp_path), finetune="lora").eval()
    assert loaded.gene_vocabulary().genes == tuple(GENES)
    trainable = [n for n, p in loaded.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_" in n for n in trainable)
    batch = loaded.batch_cells(torch.tensor(COUNTS, dtype=torch.float))
    with torch.no_grad():
        expected = tiny(batch.input_ids, batch.attention_mask).last_hidden_state
        got = loaded(batch.input_ids, batch.attention_mask).last_hidden_state
    torch.testing.assert_close(got, expected)  # LoRA starts as the identity
    assert loaded.get_max_context() == 64

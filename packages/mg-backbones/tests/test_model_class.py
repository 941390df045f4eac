"""HFBackbone loads a model whose code lives in an installed package, with no remote code.

The package is real: written to a tmp folder, put on ``sys.path``, and (for the entry-point
route) given ``.dist-info`` metadata that registers its class under ``mg.model_classes``.
Its model type is unknown to transformers, so the Auto classes cannot load the folder.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from mg.backbones import HFBackbone
from mg.backbones.loading import BackboneLoadError
from mg.backbones.tokenization import bert_char_tokenizer

PACKAGE = '''
"""A toy encoder standing in for DNABERT-2, HyenaDNA, Caduceus and the like."""

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput


class ToyConfig(PretrainedConfig):
    model_type = "mg-toy-conv"

    def __init__(
        self, vocab_size=16, hidden_size=8, num_hidden_layers=2, max_position_embeddings=64, **kw
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.max_position_embeddings = max_position_embeddings
        super().__init__(**kw)


class ToyPreTrained(PreTrainedModel):
    config_class = ToyConfig
    base_model_prefix = "toy"


class ToyModel(ToyPreTrained):
    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(
            nn.Conv1d(config.hidden_size, config.hidden_size, 3, padding=1)
            for _ in range(config.num_hidden_layers)
        )
        self.post_init()

    def forward(self, input_ids, attention_mask=None, output_hidden_states=False, **_):
        hidden = self.embed(input_ids)
        states = [hidden]
        for layer in self.layers:
            hidden = hidden + torch.relu(layer(hidden.transpose(1, 2)).transpose(1, 2))
            states.append(hidden)
        return BaseModelOutput(last_hidden_state=hidden, hidden_states=tuple(states))


class ToyForMaskedLM(ToyPreTrained):
    def __init__(self, config):
        super().__init__(config)
        self.toy = ToyModel(config)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, **kwargs):
        hidden = self.toy(input_ids, attention_mask, **kwargs).last_hidden_state
        return MaskedLMOutput(logits=self.head(hidden))
'''


@pytest.fixture
def toy_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install the toy package into a tmp ``sys.path`` entry; return a saved model folder."""
    site = tmp_path / "site"
    (site / "toy_models").mkdir(parents=True)
    (site / "toy_models" / "__init__.py").write_text(PACKAGE)
    info = site / "toy_models-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-models\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [mg.model_classes]
            toy-conv = toy_models:ToyForMaskedLM
            """
        )
    )
    monkeypatch.syspath_prepend(str(site))
    import toy_models

    tokenizer = bert_char_tokenizer("ACGTN")
    config = toy_models.ToyConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    folder = tmp_path / "toy-model"
    toy_models.ToyForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("spec", ["toy_models:ToyForMaskedLM", "toy-conv"])
def test_model_class_loads_a_package_model_without_remote_code(
    toy_package: Path, spec: str
) -> None:
    import toy_models

    with_head = HFBackbone(
        True, None, model_path=str(toy_package), model_class=spec, split_characters=True
    )
    assert type(with_head.model) is toy_models.ToyForMaskedLM
    encoder = HFBackbone(
        False, None, model_path=str(toy_package), model_class=spec, split_characters=True
    )
    assert type(encoder.model) is toy_models.ToyModel  # the head is not kept without a task need
    batch = encoder.batch(["ACGT", "AC"])
    with torch.no_grad():
        hidden = encoder(batch.input_ids, batch.attention_mask).last_hidden_state
        logits = with_head.get_decoder()(
            with_head(batch.input_ids, batch.attention_mask).last_hidden_state
        )
    assert hidden.shape == (2, 6, 8) and logits.shape == (2, 6, len(encoder.get_vocab()))
    torch.testing.assert_close(with_head.encoder(batch.input_ids).last_hidden_state, hidden)


def test_without_model_class_the_unknown_type_does_not_load(toy_package: Path) -> None:
    with pytest.raises((BackboneLoadError, ValueError), match="mg-toy-conv"):
        HFBackbone(False, None, model_path=str(toy_package))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("toy_models:Missing", "has no 'Missing'"),
        ("no_such_package.models:Model", "cannot import module 'no_such_package.models'"),
        ("unregistered-name", "registered under the 'mg.model_classes' entry points"),
        ("torch.nn:Linear", "not a transformers PreTrainedModel"),
    ],
)
def test_a_bad_model_class_is_one_clear_error(toy_package: Path, spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HFBackbone(False, None, model_path=str(toy_package), model_class=spec)

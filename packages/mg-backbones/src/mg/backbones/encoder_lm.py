"""What mg's own transformers models (AIDO, ESM C) share: the layer stack and the masked-LM head."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from torch import Tensor, nn
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput

from mg.backbones.aido.layers import rotary_angles


class RotaryEncoder(nn.Module):
    """Mixin of a transformers encoder: embeddings, pre-norm layers with rotary attention, norm.

    Put it before the ``PreTrainedModel`` base. Padding: a padded key is never attended
    to; when no row has padding no mask is built at all, so the GPU can use its flash
    kernel. Outputs at padded positions carry no meaning.

    Class attributes:
        embeddings_path: the dotted name of the token embedding inside the model.

    Attributes:
        rotary_dim (int): channels per head that rotate; 0 for no rotary positions.
    """

    embeddings_path: ClassVar[str]
    rotary_dim: int

    def parts(self) -> tuple[nn.Module, Iterable[nn.Module], nn.Module]:
        """Return the embedding step (ids → states), the layers and the final norm."""
        raise NotImplementedError

    def get_input_embeddings(self) -> nn.Embedding:
        """Return the token embedding."""
        embedding: nn.Embedding = self.get_submodule(self.embeddings_path)
        return embedding

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        """Replace the token embedding."""
        owner, _, name = self.embeddings_path.rpartition(".")
        setattr(self.get_submodule(owner) if owner else self, name, value)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **_: Any,
    ) -> BaseModelOutput:
        """Encode ``(batch, length)`` ids; ``attention_mask`` is 1 for real tokens.

        Args:
            input_ids (Tensor): ``(batch, length)`` token ids.
            attention_mask (Tensor | None): 1 for real tokens.
            output_hidden_states (bool | None): also return every layer's states.
            return_dict (bool | None): ignored; the output is always a `BaseModelOutput`.

        Returns:
            BaseModelOutput: ``last_hidden_state`` after the final norm; with
            ``output_hidden_states``, each layer's input (the embeddings first) and then
            ``last_hidden_state`` (ModelGenerator's convention for AIDO).
        """
        embed, layers, norm = self.parts()
        hidden = embed(input_ids)
        key_mask = None
        if attention_mask is not None and not bool(attention_mask.all()):
            key_mask = attention_mask.bool()[:, None, None, :]
        rotary = None
        if self.rotary_dim:
            angles = rotary_angles(hidden.shape[1], self.rotary_dim, hidden.device)
            rotary = (angles.cos().to(hidden.dtype), angles.sin().to(hidden.dtype))
        states: list[Tensor] = []
        for layer in layers:
            if output_hidden_states:
                states.append(hidden)
            hidden = layer(hidden, key_mask, rotary)
        hidden = norm(hidden)
        if output_hidden_states:
            states.append(hidden)
        return BaseModelOutput(
            last_hidden_state=hidden, hidden_states=tuple(states) if output_hidden_states else None
        )


class EncoderMaskedLM(nn.Module):
    """Mixin of a transformers ``*ForMaskedLM`` made of its encoder and a vocabulary head.

    Put it before the ``PreTrainedModel`` base. The encoder is the model's ``base_model``
    (the attribute its ``base_model_prefix`` names); a subclass names the head and the
    vocabulary projection by the module names its weights are saved under.

    Class attributes:
        lm_head_name: the attribute holding the head (hidden states → logits).
        decoder_path: the dotted name of the vocabulary projection inside the model.
    """

    lm_head_name: ClassVar[str]
    decoder_path: ClassVar[str]

    def get_output_embeddings(self) -> nn.Linear:
        """Return the vocabulary projection."""
        decoder: nn.Linear = self.get_submodule(self.decoder_path)
        return decoder

    def set_output_embeddings(self, value: nn.Linear) -> None:
        """Replace the vocabulary projection."""
        owner, _, name = self.decoder_path.rpartition(".")
        setattr(self.get_submodule(owner), name, value)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **_: Any,
    ) -> MaskedLMOutput:
        """Encode and return vocabulary logits (and the loss when ``labels`` are given).

        Args:
            input_ids (Tensor): ``(batch, length)`` token ids.
            attention_mask (Tensor | None): 1 for real tokens.
            labels (Tensor | None): ``(batch, length)`` target ids; -100 is not scored.
            output_hidden_states (bool | None): also return every layer's states.
            return_dict (bool | None): ignored; the output is always a `MaskedLMOutput`.

        Returns:
            MaskedLMOutput: ``logits`` ``(batch, length, vocabulary)``, ``loss`` and
            ``hidden_states``.
        """
        encoder: nn.Module = self.base_model  # type: ignore[assignment]
        output = encoder(input_ids, attention_mask, output_hidden_states=output_hidden_states)
        logits = getattr(self, self.lm_head_name)(output.last_hidden_state)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten())
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=output.hidden_states)

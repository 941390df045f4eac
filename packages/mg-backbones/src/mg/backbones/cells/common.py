"""What the cell backbones share: gene lists, model folders and fine-tuning set-up."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from torch import nn

from mg.backbones.finetuning import LoraSettings, apply_finetune_mode
from mg.core.cells import CellBackboneInterface, GeneVocabulary

DATA = Path(__file__).parent / "data"


def gene_vocabulary(
    genes: Sequence[str] | str | None,
    default_config: dict[str, Any] | None,
    *,
    default: str | None = None,
    who: str,
) -> GeneVocabulary:
    """Return a backbone's genes from its option, the task's defaults, or a shipped list.

    Args:
        genes (Sequence[str] | str | None): the genes, or a text file with one per line.
        default_config (dict[str, Any] | None): task defaults; ``"genes"`` there is used
            when the option is unset (a task passes the data's genes to the baseline).
        default (str | None): the name of a gene list shipped in this package.
        who (str): the backbone's name, for messages.

    Raises:
        ValueError: no genes anywhere.
    """
    chosen = genes if genes is not None else (default_config or {}).get("genes")
    if chosen is None and default is not None:
        return GeneVocabulary.from_file(DATA / default)
    if chosen is None:
        raise ValueError(
            f"{who} needs its genes: set genes to a list of gene names or to a text file "
            "with one gene per line."
        )
    if isinstance(chosen, str | Path):
        return GeneVocabulary.from_file(chosen)
    return GeneVocabulary.from_names(list(chosen))


def read_config(folder: Path) -> dict[str, Any]:
    """Read ``config.json`` of a model folder as plain data."""
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


class FinetunedCellBackbone(CellBackboneInterface):
    """A cell backbone whose network trains fully, stays frozen, or learns LoRA weights.

    The fine-tuning options are declared here once; subclasses take them through
    ``**finetuning``, build their network, then hand it to `attach_model`.
    """

    lora_target_modules: ClassVar[tuple[str, ...]] = ("query", "value")
    """Layers LoRA adapts when the option is unset."""

    def __init__(
        self,
        use_lm_head: bool = False,
        default_config: dict[str, Any] | None = None,
        /,
        *,
        finetune: Literal["full", "frozen", "lora"] = "full",
        lora_r: int = 8,
        lora_alpha: int = 16,
        lora_dropout: float = 0.05,
        lora_target_modules: list[str] | None = None,
    ) -> None:
        """Keep the fine-tuning options; `attach_model` applies them.

        Args:
            use_lm_head (bool): reserved.
            default_config (dict[str, Any] | None): reserved; task defaults.
            finetune (Literal["full", "frozen", "lora"]): which weights train.
            lora_r (int): LoRA rank.
            lora_alpha (int): LoRA scaling numerator.
            lora_dropout (float): dropout on the LoRA input.
            lora_target_modules (list[str] | None): linear layers to adapt; None uses the
                class's ``lora_target_modules``.
        """
        super().__init__(use_lm_head, default_config)
        self.finetune = finetune
        targets = tuple(lora_target_modules or self.lora_target_modules)
        self._lora = LoraSettings(
            r=lora_r, alpha=lora_alpha, dropout=lora_dropout, target_modules=targets
        )

    @classmethod
    def declared_finetune(cls, options: Mapping[str, Any]) -> str | None:
        """Return the ``finetune`` option (``"full"`` when unset)."""
        return str(options.get("finetune", "full"))

    def attach_model(self, model: nn.Module) -> None:
        """Keep ``model`` and set which of its weights train, as the options say.

        Args:
            model (nn.Module): the network.
        """
        self.model = model
        apply_finetune_mode(self.model, self.finetune, self._lora)  # type: ignore[arg-type]
        self.train(self.training)

    def train(self, mode: bool = True) -> Self:
        """Set training mode; a frozen backbone always stays in eval mode (no dropout)."""
        super().train(mode)
        if getattr(self, "finetune", "full") == "frozen":
            self.model.eval()
        return self

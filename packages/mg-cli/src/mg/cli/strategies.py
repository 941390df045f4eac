"""Training strategies that know mg's models: FSDP that shards each backbone layer.

``--trainer.strategy BackboneFSDPStrategy`` (or ``strategy: BackboneFSDPStrategy`` in a
config) shards the model with PyTorch FSDP and puts every repeated layer of the backbone
(``BackboneInterface.layer_classes``: ``EsmLayer``, ``BertLayer``...) in its own FSDP unit,
without naming a class. Only one layer's full weights then exist on a GPU at a time; the
embeddings, heads and adapter form the root unit. LoRA-tuned and frozen backbones work: a
unit may mix frozen and trainable weights, because the original parameters are kept
(``use_orig_params=True``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from lightning.pytorch.strategies import FSDPStrategy
from torch import nn

from mg.cli.checkpointing import load_checkpoint_file
from mg.core.backbone import BackboneInterface

ShardingStrategy = Literal["FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD"]

_OWN_OPTIONS = {
    "auto_wrap_policy": "the backbone's layers decide it",
    "use_orig_params": "it must stay true for frozen and LoRA weights",
    "device_id": "the strategy sets it from the process's device",
}


def backbone_layer_classes(module: nn.Module) -> set[type[nn.Module]]:
    """Return the layer classes of every backbone inside ``module`` (a task, usually).

    Pass them to any FSDP policy of your own, e.g. Lightning's
    ``FSDPStrategy(auto_wrap_policy=backbone_layer_classes(task))`` after the task's
    ``configure_model()``.

    Args:
        module (nn.Module): a task or any module holding one or more backbones.

    Returns:
        set[type[nn.Module]]: the union of the backbones' ``layer_classes()``.
    """
    classes: set[type[nn.Module]] = set()
    for child in module.modules():
        if isinstance(child, BackboneInterface):
            classes |= child.layer_classes()
    return classes


class BackboneWrapPolicy:
    """Which modules FSDP wraps in their own unit: each layer, and LoRA weights apart.

    Each backbone layer is a unit, and so is each trainable leaf module of a layer that
    also holds frozen weights.
    A unit's weights are all-gathered, and its gradients reduced, as one flat tensor.
    When LoRA leaves a layer with frozen and trainable weights, the layer's unit would
    hold gradient memory for all its weights; giving each trainable leaf of such a layer
    (``lora_A``, ``lora_B``) its own unit keeps frozen and trainable weights apart, so
    gradients take only the memory of the trainable ones.

    Args:
        layer_classes (set[type[nn.Module]]): the classes to wrap, each instance a unit.
        trainable_leaves (list[nn.Module]): further modules to wrap, each its own unit.
    """

    def __init__(
        self, layer_classes: set[type[nn.Module]], trainable_leaves: list[nn.Module]
    ) -> None:
        self.layer_classes = tuple(sorted(layer_classes, key=lambda c: c.__qualname__))
        self._leaves = {id(m) for m in trainable_leaves}

    @classmethod
    def for_model(cls, model: nn.Module, layer_classes: set[type[nn.Module]]) -> BackboneWrapPolicy:
        """Build the policy for ``model``, finding the layers that mix frozen and trainable."""
        leaves: list[nn.Module] = []
        for layer in _layers(model, layer_classes):
            flags = {p.requires_grad for p in layer.parameters()}
            if flags == {True, False}:
                leaves += [m for m in layer.modules() if _trainable_leaf(m)]
        return cls(layer_classes, leaves)

    def __call__(self, module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
        """Answer FSDP: keep descending (``recurse``), or wrap ``module`` in its own unit."""
        if recurse:
            return True
        return isinstance(module, self.layer_classes) or id(module) in self._leaves


def _layers(model: nn.Module, layer_classes: set[type[nn.Module]]) -> list[nn.Module]:
    kinds = tuple(layer_classes)
    return [m for m in model.modules() if isinstance(m, kinds)]


def _state_dict_keys(model: nn.Module) -> set[str]:
    """The keys of ``model``'s full state dict, read from names (nothing is gathered)."""
    keys: set[str] = set()
    for name, module in model.named_modules():
        prefix = f"{name}." if name else ""
        keys.update(prefix + n for n in module._parameters if module._parameters[n] is not None)
        keys.update(
            prefix + n
            for n, b in module._buffers.items()
            if b is not None and n not in module._non_persistent_buffers_set
        )
    for segment in ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module."):
        keys = {k.replace(segment, "") for k in keys}
    return {k for k in keys if "flat_param" not in k}


def _trainable_leaf(module: nn.Module) -> bool:
    if next(module.children(), None) is not None:
        return False
    parameters = list(module.parameters(recurse=False))
    return bool(parameters) and all(p.requires_grad for p in parameters)


class BackboneFSDPStrategy(FSDPStrategy):
    """Fully sharded data parallel training with one FSDP unit per backbone layer.

    Use it like Lightning's ``fsdp`` strategy, with ``precision: bf16-mixed`` on GPUs that
    have bfloat16 (A100, H100 and later). The model is wrapped when training starts, after
    the task has built its backbone; a backbone without repeated layers (one-hot) is an
    error, since sharding it saves nothing over ``ddp``.

    On CPU (gloo) it runs too, for tests and debugging: torch's FSDP needs the CPU named
    as its device there, which this strategy does.

    Args:
        sharding_strategy (ShardingStrategy): ``FULL_SHARD`` shards weights, gradients and
            optimizer state (least memory); ``SHARD_GRAD_OP`` keeps full weights between
            forward and backward (faster, more memory); ``HYBRID_SHARD`` shards within a
            node and replicates across nodes (less inter-node traffic); ``NO_SHARD`` is
            DDP.
        state_dict_type (Literal["full", "sharded"]): ``full`` gathers the weights into one
            ``.ckpt`` file on rank 0, which any mg command reads, also without FSDP;
            ``sharded`` writes one folder with a file per rank (faster for billions of
            weights; resume needs the same number of processes).
        cpu_offload (bool): keep sharded weights and gradients in host memory between uses
            (fits larger models, much slower).
        process_group_backend (str | None): ``nccl`` on GPUs, ``gloo`` on CPU by default.
        fsdp_options (dict[str, Any] | None): further arguments of PyTorch's
            ``FullyShardedDataParallel`` (``limit_all_gathers``, ``forward_prefetch``...).
            ``sync_module_states`` defaults to true (every rank starts from rank 0's
            weights); ``auto_wrap_policy``, ``use_orig_params`` and ``device_id`` are set
            by the strategy.

    Raises:
        ValueError: ``fsdp_options`` sets one of the options the strategy owns.
    """

    def __init__(
        self,
        sharding_strategy: ShardingStrategy = "FULL_SHARD",
        state_dict_type: Literal["full", "sharded"] = "full",
        cpu_offload: bool = False,
        process_group_backend: str | None = None,
        fsdp_options: dict[str, Any] | None = None,
    ) -> None:
        options = dict(fsdp_options or {})
        for key, why in _OWN_OPTIONS.items():
            if key in options:
                raise ValueError(
                    f"BackboneFSDPStrategy sets {key} itself ({why}); remove it from "
                    "fsdp_options, or use lightning's FSDPStrategy to choose it yourself."
                )
        options.setdefault("sync_module_states", True)
        super().__init__(
            sharding_strategy=sharding_strategy,
            state_dict_type=state_dict_type,
            cpu_offload=cpu_offload,
            process_group_backend=process_group_backend,
            use_orig_params=True,
            **options,
        )

    def wrap_policy(self, model: nn.Module) -> BackboneWrapPolicy:
        """Return the FSDP policy for ``model`` (see `BackboneWrapPolicy`).

        Each backbone layer is a unit; in a layer with frozen weights, so is each trainable
        leaf module.

        Raises:
            ValueError: ``model`` holds no backbone, its backbones name no layers, or it
                has frozen weights while nothing is sharded (one process, ``NO_SHARD``).
        """
        backbones = [m for m in model.modules() if isinstance(m, BackboneInterface)]
        if not backbones:
            raise ValueError(
                f"BackboneFSDPStrategy shards backbone layers, but {type(model).__name__} holds "
                "no mg backbone: use strategy fsdp with your own auto_wrap_policy."
            )
        classes = backbone_layer_classes(model)
        if not classes:
            names = ", ".join(sorted({type(b).__name__ for b in backbones}))
            raise ValueError(
                f"BackboneFSDPStrategy shards each backbone layer, but {names} has no repeated "
                "layers (its layer_classes() is empty), so sharding would save no memory: use "
                "--trainer.strategy ddp, or override layer_classes() in the backbone."
            )
        frozen = any(
            not p.requires_grad for layer in _layers(model, classes) for p in layer.parameters()
        )
        if frozen and (self.sharding_strategy.name == "NO_SHARD" or self.world_size == 1):
            raise ValueError(
                "BackboneFSDPStrategy does not shard on one process or with NO_SHARD, and then "
                "torch's FSDP drops frozen weights (finetune lora or frozen) from checkpoints "
                "after the first backward pass. On one device leave --trainer.strategy at its "
                "default; across devices use ddp, or FULL_SHARD, SHARD_GRAD_OP or HYBRID_SHARD."
            )
        return BackboneWrapPolicy.for_model(model, classes)

    def load_checkpoint(self, checkpoint_path: Any, weights_only: bool | None = None) -> Any:
        """Load a checkpoint; a LoRA-slim or frozen-slim ``.ckpt`` of mg's resumes too.

        Lightning's FSDP loading is strict, so a checkpoint without the frozen backbone
        weights (which come from the pretrained model) would not load. The keys are checked
        here instead: only the keys the checkpoint records as omitted may be missing.

        Raises:
            RuntimeError: the checkpoint misses other keys or holds unknown ones.
        """
        path = Path(checkpoint_path)
        module = self.lightning_module
        if not path.is_file() or module is None:
            return super().load_checkpoint(checkpoint_path, weights_only)
        saved = load_checkpoint_file(path, mmap=True)
        omitted = set(saved.get("mg", {}).get("omitted_keys", []))
        if not omitted:
            return super().load_checkpoint(checkpoint_path, weights_only)
        keys = set(saved["state_dict"])
        expected = _state_dict_keys(module)
        missing = sorted(expected - keys - omitted)
        unexpected = sorted(keys - expected)
        if missing or unexpected:
            raise RuntimeError(f"missing keys {missing[:5]}, unexpected keys {unexpected[:5]}")
        strict = module.strict_loading
        module.strict_loading = False
        try:
            return super().load_checkpoint(checkpoint_path, weights_only)
        finally:
            module.strict_loading = strict

    def _setup_model(self, model: nn.Module) -> nn.Module:
        from torch.distributed.fsdp import FullyShardedDataParallel

        if any(isinstance(m, FullyShardedDataParallel) for m in model.modules()):
            return super()._setup_model(model)  # wrapped already, e.g. in configure_model
        policy = self.wrap_policy(model)
        if self.root_device.type == "cpu":
            # Lightning hands FSDP the device index, which a CPU lacks, and FSDP then looks
            # for an accelerator; naming the CPU makes it run on gloo. torch syncs module
            # states on GPUs only; on CPU every rank starts from the same seed instead.
            options = {**self.kwargs, "sync_module_states": False}
            model = FullyShardedDataParallel(
                module=model,
                cpu_offload=self.cpu_offload,
                mixed_precision=self.mixed_precision_config,
                sharding_strategy=self.sharding_strategy,
                device_id=torch.device("cpu"),
                auto_wrap_policy=policy,
                **options,
            )
            return super()._setup_model(model)
        self.kwargs["auto_wrap_policy"] = policy
        try:
            return super()._setup_model(model)
        finally:
            del self.kwargs["auto_wrap_policy"]


def register() -> None:
    """Register ``backbone_fsdp`` with Lightning, so ``--trainer.strategy backbone_fsdp`` works.

    A plain string is what ``--trainer.strategy`` reads first; the class path form
    (``strategy: {class_path: BackboneFSDPStrategy, init_args: {...}}``) takes options.
    """
    from lightning.pytorch.strategies import StrategyRegistry

    if "backbone_fsdp" not in StrategyRegistry:
        StrategyRegistry.register(
            "backbone_fsdp",
            BackboneFSDPStrategy,
            description="FSDP with one unit per backbone layer (mg.cli.strategies)",
        )


register()

"""Loading Hugging Face configs, tokenizers and models from a folder or the Hub.

Every named backbone takes ``model_path``: a local folder (what ``save_pretrained``
writes, or a downloaded Hub snapshot) or a Hub id. This module turns the ways that can
fail — a folder that is not there, a Hub id with no network and no cache — into one clear
error each, and applies the task's and the user's config values in the right order.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import inspect
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)


class BackboneLoadError(OSError):
    """A backbone's weights, config or tokenizer could not be loaded.

    The message says what to do: point ``model_path`` at a local folder, or fix the folder.
    """


class ModelPathNotFoundError(BackboneLoadError, FileNotFoundError):
    """``model_path`` names a local folder that does not exist."""


_TRUE = {"1", "ON", "YES", "TRUE"}

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json")

# Models whose learned positions start after the padding index (RoBERTa's layout): they
# take ``max_position_embeddings - pad_token_id - 1`` tokens.
_PADDING_OFFSET_MODEL_TYPES = frozenset({"esm", "roberta", "xlm-roberta", "camembert"})


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for the local cache only.

    Read at call time, so setting the variable after import still takes effect.
    """
    if any(
        os.environ.get(v, "").upper() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    ):
        return True
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        return False
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def looks_like_local_path(model_path: str) -> bool:
    """Tell a local path from a Hub id (``owner/name``) by its spelling alone.

    Absolute, home-relative and dot-relative paths, Windows paths and anything with more
    than one ``/`` cannot be Hub ids.
    """
    return (
        model_path.startswith(("/", ".", "~"))
        or "\\" in model_path
        or (len(model_path) > 1 and model_path[1] == ":")
        or model_path.count("/") > 1
    )


def resolve_model_path(model_path: str | os.PathLike[str]) -> tuple[str, bool]:
    """Check ``model_path`` and say whether it is a local folder.

    Args:
        model_path (str | os.PathLike[str]): a folder or a Hub id.

    Returns:
        tuple[str, bool]: the folder (user home expanded) or the Hub id, and True for a folder.

    Raises:
        ModelPathNotFoundError: it looks like a local path but nothing is there.
        BackboneLoadError: it is a file, or a folder without ``config.json``.
    """
    text = os.fspath(model_path)
    if not text:
        raise BackboneLoadError("model_path is empty: give a local folder or a Hub id.")
    folder = Path(text).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise BackboneLoadError(
                f"model_path {text!r} is a folder without config.json, so it holds no Hugging "
                "Face model. Point model_path at the folder that save_pretrained wrote (or a "
                "downloaded Hub snapshot), which holds config.json, the weights and the "
                "tokenizer files."
            )
        return str(folder), True
    if folder.exists():
        raise BackboneLoadError(
            f"model_path {text!r} is a file; point it at the folder that holds config.json, "
            "the weights and the tokenizer files."
        )
    if looks_like_local_path(text) or isinstance(model_path, Path):
        raise ModelPathNotFoundError(
            f"model_path {text!r} looks like a local folder, but there is nothing at "
            f"{folder.resolve()}. Check the path (relative paths start from {Path.cwd()}), or "
            "give a Hub id such as 'facebook/esm2_t30_150M_UR50D'."
        )
    return text, False


@dataclass(frozen=True)
class HubOptions:
    """Options for every ``from_pretrained`` call of one backbone.

    Attributes:
        revision (str | None): a branch, tag or commit of a Hub repository.
        cache_dir (str | None): where Hub downloads are cached (default: ``HF_HOME``).
        trust_remote_code (bool): run modeling code shipped with the checkpoint.
    """

    revision: str | None = None
    cache_dir: str | None = None
    trust_remote_code: bool = False

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by AutoConfig, AutoTokenizer and AutoModel."""
        options: dict[str, Any] = {"trust_remote_code": self.trust_remote_code}
        if self.revision is not None:
            options["revision"] = self.revision
        if self.cache_dir is not None:
            options["cache_dir"] = self.cache_dir
        if hub_offline():
            options["local_files_only"] = True
        return options


@contextlib.contextmanager
def explain_load_errors(model_path: str, is_local: bool, what: str) -> Iterator[None]:
    """Turn the OSErrors of ``from_pretrained`` into one `BackboneLoadError` that says what to do.

    Args:
        model_path (str): the folder or Hub id being loaded.
        is_local (bool): it is a local folder.
        what (str): what is being loaded (``"config"``, ``"tokenizer"``, ``"weights"``).
    """
    try:
        yield
    except BackboneLoadError:
        raise
    except OSError as error:
        if is_local:
            message = (
                f"Could not load the {what} from the folder {model_path!r}: {error}. The folder "
                "must hold what save_pretrained writes for both the model and its tokenizer."
            )
        else:
            cache = "HF_HOME" if "HF_HOME" in os.environ else "~/.cache/huggingface"
            message = (
                f"Could not load the {what} of {model_path!r} from the Hugging Face Hub: no "
                f"network, no such repository, or it is not in the local cache ({cache}). To "
                "run without network, download it once where there is network (`hf download "
                f"{model_path} --local-dir <folder>`), copy the folder over and set model_path "
                "to that local folder; with HF_HUB_OFFLINE=1 only the local cache is read. "
                f"Cause: {error}"
            )
        raise BackboneLoadError(message) from error


def fetch_hub_files(model_path: str, patterns: Sequence[str], options: HubOptions) -> Path:
    """Fetch the files of a Hub repository that match ``patterns`` (or find them cached).

    For backbones that read their checkpoint as data rather than through
    ``from_pretrained``; ``HF_HUB_OFFLINE`` reads the local cache only.

    Args:
        model_path (str): the Hub id.
        patterns (Sequence[str]): glob patterns of the files needed (config, weights).
        options (HubOptions): revision and cache folder.

    Returns:
        Path: the local snapshot folder.

    Raises:
        BackboneLoadError: no network and no cached copy, or no such repository; the
            message says how to point ``model_path`` at a local folder instead.
    """
    from huggingface_hub import snapshot_download

    with explain_load_errors(model_path, False, "weights"):
        try:
            folder = snapshot_download(
                model_path,
                revision=options.revision,
                cache_dir=options.cache_dir,
                allow_patterns=list(patterns),
                local_files_only=hub_offline(),
            )
        except OSError:
            raise
        except Exception as error:  # the Hub client's own errors: one message for all
            raise OSError(str(error)) from error
    return Path(folder)


def model_folder(
    model_path: str, patterns: Sequence[str], options: HubOptions | None = None
) -> Path:
    """Return a local folder holding a model's files, fetching a Hub id's files if needed.

    For backbones that read their checkpoint as data (cells, Enformer, Borzoi).

    Args:
        model_path (str): a local folder or a Hub id.
        patterns (Sequence[str]): glob patterns of the files needed (config, weights).
        options (HubOptions | None): revision and cache folder of a Hub id.

    Raises:
        BackboneLoadError: a missing folder, or a Hub id that cannot be reached or is not
            cached (the message says how to point ``model_path`` at a local folder).
    """
    source, is_local = resolve_model_path(model_path)
    if is_local:
        return Path(source)
    return fetch_hub_files(source, patterns, options or HubOptions())


WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
"""A model folder's weight files as ``save_pretrained`` names them; `read_weights` reads them."""


def read_weights(
    folder: Path, torch_files: Sequence[str] = ("pytorch_model.bin",)
) -> dict[str, Tensor]:
    """Read a model folder's weights as data: safetensors, else a weights-only torch load.

    The one reader of pretrained weights that do not go through ``from_pretrained``: no
    file from the folder can run code.

    Args:
        folder (Path): the model folder.
        torch_files (Sequence[str]): glob patterns, relative to ``folder``, of torch state
            dicts read when there is no ``model*.safetensors``; the first that matches wins.

    Returns:
        dict[str, Tensor]: every tensor of every matching file, by name.

    Raises:
        BackboneLoadError: the folder holds no weights file, or one that cannot be read.
    """
    files = sorted(folder.glob("model*.safetensors"))
    for pattern in torch_files:
        if files:
            break
        files = sorted(folder.glob(pattern))
    if not files:
        raise BackboneLoadError(
            f"{folder} holds no weights (model.safetensors or {', '.join(torch_files)}): point "
            "model_path at the folder that save_pretrained wrote."
        )
    state: dict[str, Tensor] = {}
    for path in files:
        try:
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                state.update(load_file(str(path)))
            else:
                state.update(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as error:  # a corrupt or foreign file: say which one
            raise BackboneLoadError(
                f"Could not read the weights file {path} as tensors ({error}); save the model "
                "again, or point model_path at a folder save_pretrained wrote."
            ) from error
    return state


def load_exact_state(model: nn.Module, state: dict[str, Tensor], where: str, family: str) -> None:
    """Load weights that must fit ``model`` name for name and shape for shape.

    Args:
        model (nn.Module): the freshly built model.
        state (dict[str, Tensor]): its weights, already under the model's names.
        where (str): the folder they came from, for the message.
        family (str): the model family, for the message (``"Enformer"``).

    Raises:
        BackboneLoadError: a weight is missing, left over or of another shape; the message
            names up to five of each.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or extra or wrong:
        raise BackboneLoadError(
            f"The {family} weights in {where} do not fit its config.json: missing "
            f"{missing[:5]}, unexpected {extra[:5]}, wrong shape {wrong[:5]}. Point model_path "
            "at a folder whose config.json and weights were saved together."
        )
    model.load_state_dict(state)


def refuse_remote_code_override(where: str, values: dict[str, Any] | None) -> None:
    """Refuse ``trust_remote_code`` anywhere but the backbone's own option.

    A second switch (in ``model_init_args`` or ``config_overwrites``) would silently win
    over ``trust_remote_code: false`` and run code shipped with a model.

    Raises:
        ValueError: ``values`` sets ``trust_remote_code``.
    """
    if values and "trust_remote_code" in values:
        raise ValueError(
            f"{where} sets trust_remote_code, which mg takes only from the backbone's own "
            "trust_remote_code option: remove it there and set trust_remote_code: true on the "
            "backbone if you trust the model's code."
        )


def warn_remote_code(model_path: str, is_local: bool, options: HubOptions) -> None:
    """Warn, naming the folder or Hub repository, that its Python code will run."""
    if options.trust_remote_code:
        where = f"the folder {model_path}" if is_local else f"the Hub repository {model_path!r}"
        warnings.warn(
            f"trust_remote_code is on: Python code shipped in {where} will run with your "
            "permissions. Turn it on only for models whose code you trust.",
            stacklevel=3,
        )


MODEL_CLASS_ENTRY_POINTS = "mg.model_classes"
"""Entry-point group under which packages register model classes by name."""


@dataclass(frozen=True)
class ModelClasses:
    """The transformers classes a backbone loads instead of the Auto classes.

    Attributes:
        encoder (type[PreTrainedModel]): loaded without the masked-LM head.
        masked_lm (type[PreTrainedModel]): loaded with it (may be ``encoder`` itself when
            one class holds both; the bare encoder is then its ``base_model``).
    """

    encoder: type[PreTrainedModel]
    masked_lm: type[PreTrainedModel]

    @property
    def config_class(self) -> type[PretrainedConfig]:
        """The config class both read."""
        return self.encoder.config_class


def resolve_model_class(spec: str) -> ModelClasses:
    """Find a model class named ``package.module:Class`` or registered as an entry point.

    The class comes from an installed package, so loading its checkpoints needs no
    ``trust_remote_code``: the code is the package's, not the checkpoint's.

    Args:
        spec (str): ``package.module:Class``, or a name registered under the
            ``mg.model_classes`` entry-point group.

    Raises:
        ValueError: the module, class or entry point is not there, or it is not a
            transformers ``PreTrainedModel`` subclass.
    """
    if ":" in spec:
        module_name, _, class_name = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ValueError(
                f"model_class {spec!r}: cannot import module {module_name!r} ({error}). Install "
                "the package that holds the model code, or fix the path (package.module:Class)."
            ) from error
        found = getattr(module, class_name, None)
        if found is None:
            raise ValueError(f"model_class {spec!r}: module {module_name!r} has no {class_name!r}.")
    else:
        points = importlib.metadata.entry_points(group=MODEL_CLASS_ENTRY_POINTS)
        matches = [point for point in points if point.name == spec]
        if not matches:
            known = sorted(point.name for point in points)
            raise ValueError(
                f"model_class {spec!r} is neither package.module:Class nor a name registered "
                f"under the {MODEL_CLASS_ENTRY_POINTS!r} entry points (registered: {known})."
            )
        found = matches[0].load()
    if not (isinstance(found, type) and issubclass(found, PreTrainedModel)):
        raise ValueError(
            f"model_class {spec!r} is {found!r}, not a transformers PreTrainedModel subclass."
        )
    return ModelClasses(encoder=found, masked_lm=found)


def load_config(
    model_path: str,
    is_local: bool,
    options: HubOptions,
    config_class: type[PretrainedConfig] | None = None,
) -> PretrainedConfig:
    """Load a model config from a folder or the Hub (see `explain_load_errors`).

    Warns first when ``trust_remote_code`` is on, naming whose code will run.

    Args:
        model_path (str): folder or Hub id.
        is_local (bool): it is a local folder.
        options (HubOptions): revision, cache and remote-code options.
        config_class (type[PretrainedConfig] | None): read ``config.json`` with this class
            (installed code) instead of `AutoConfig`.
    """
    if config_class is not None:
        with explain_load_errors(model_path, is_local, "config"):
            kwargs = {k: v for k, v in options.kwargs().items() if k != "trust_remote_code"}
            return config_class.from_pretrained(model_path, **kwargs)
    warn_remote_code(model_path, is_local, options)
    with explain_load_errors(model_path, is_local, "config"):
        return AutoConfig.from_pretrained(model_path, **options.kwargs())


def load_tokenizer(model_path: str, is_local: bool, options: HubOptions) -> PreTrainedTokenizerBase:
    """Load a tokenizer from a folder or the Hub (see `explain_load_errors`)."""
    if (
        is_local
        and not any((Path(model_path) / name).is_file() for name in _TOKENIZER_FILES)
        and not any(Path(model_path).glob("*.model"))
    ):
        raise BackboneLoadError(
            f"The folder {model_path!r} holds a model but no tokenizer files (tokenizer.json, "
            "tokenizer_config.json or vocab.txt). Save the tokenizer beside the weights with "
            "tokenizer.save_pretrained(folder), or use the backbone's save_pretrained, which "
            "writes both."
        )
    with explain_load_errors(model_path, is_local, "tokenizer"):
        return AutoTokenizer.from_pretrained(model_path, **options.kwargs())


def apply_config_values(
    config: PretrainedConfig,
    task_defaults: dict[str, Any] | None,
    user_values: dict[str, Any] | None,
) -> None:
    """Set task defaults, then user values, on a config: the user's value wins.

    Args:
        config (PretrainedConfig): edited in place.
        task_defaults (dict[str, Any] | None): values a task asks for (e.g. ``num_labels``).
        user_values (dict[str, Any] | None): the user's ``config_overwrites``.

    Raises:
        ValueError: a user key the config does not have (most likely a typo), or
            ``trust_remote_code`` (see `refuse_remote_code_override`).
    """
    refuse_remote_code_override("config_overwrites", user_values)
    for key, value in (task_defaults or {}).items():
        setattr(config, key, value)
    unknown = [key for key in (user_values or {}) if not hasattr(config, key)]
    if unknown:
        raise ValueError(
            f"config_overwrites sets {unknown}, which the {config.model_type!r} config does not "
            f"have. Its keys: {sorted(config.to_dict())}."
        )
    for key, value in (user_values or {}).items():
        setattr(config, key, value)


def _model_class_accepts(auto: Any, config: PretrainedConfig, argument: str) -> bool:
    try:
        cls = auto._model_mapping[type(config)]
    except (KeyError, AttributeError):
        return False
    return argument in inspect.signature(cls.__init__).parameters


def load_model(
    model_path: str,
    is_local: bool,
    config: PretrainedConfig,
    use_lm_head: bool,
    options: HubOptions,
    model_init_args: dict[str, Any] | None = None,
    classes: ModelClasses | None = None,
) -> PreTrainedModel:
    """Load weights through ``AutoModelForMaskedLM`` (with the head) or ``AutoModel``.

    The bare encoder is loaded without its pooling layer where the class allows it: mg's
    adapters pool themselves, and unused weights break distributed training.

    Args:
        model_path (str): folder or Hub id.
        is_local (bool): it is a local folder.
        config (PretrainedConfig): the config, with task and user values applied.
        use_lm_head (bool): load the masked-LM head.
        options (HubOptions): revision, cache and remote-code options.
        model_init_args (dict[str, Any] | None): further ``from_pretrained`` arguments
            (``dtype``, ``attn_implementation``, ...).
        classes (ModelClasses | None): installed classes to load instead of the Auto ones.

    Raises:
        BackboneLoadError: the weights cannot be found.
        ValueError: ``use_lm_head`` but transformers has no masked-LM class for the model, or
            ``model_init_args`` sets ``trust_remote_code``.
    """
    refuse_remote_code_override("model_init_args", model_init_args)
    if classes is not None:
        return _load_with_classes(
            model_path, is_local, config, use_lm_head, options, model_init_args, classes
        )
    auto = AutoModelForMaskedLM if use_lm_head else AutoModel
    kwargs: dict[str, Any] = {**options.kwargs(), "config": config, **(model_init_args or {})}
    if (
        not use_lm_head
        and "add_pooling_layer" not in kwargs
        and _model_class_accepts(auto, config, "add_pooling_layer")
    ):
        kwargs["add_pooling_layer"] = False
    with explain_load_errors(model_path, is_local, "weights"):
        try:
            return auto.from_pretrained(model_path, **kwargs)
        except ValueError as error:
            if use_lm_head and "Unrecognized configuration class" in str(error):
                raise ValueError(
                    f"{model_path!r} ({config.model_type}) has no masked-LM model class in "
                    "transformers, and this task needs a masked-LM head: choose a model with one."
                ) from error
            raise


def _load_with_classes(
    model_path: str,
    is_local: bool,
    config: PretrainedConfig,
    use_lm_head: bool,
    options: HubOptions,
    model_init_args: dict[str, Any] | None,
    classes: ModelClasses,
) -> PreTrainedModel:
    cls = classes.masked_lm if use_lm_head else classes.encoder
    kwargs = {k: v for k, v in options.kwargs().items() if k != "trust_remote_code"}
    kwargs.update(config=config, **(model_init_args or {}))
    with explain_load_errors(model_path, is_local, "weights"):
        model = cls.from_pretrained(model_path, **kwargs)
    # One class with its head, asked for the encoder: keep only the encoder, so no unused
    # head weights stall distributed training.
    if not use_lm_head and model.base_model is not model:
        return model.base_model
    return model


def model_context(config: PretrainedConfig, tokenizer: PreTrainedTokenizerBase) -> int:
    """Return how many tokens, special tokens included, a model accepts.

    Raises:
        ValueError: neither the config nor the tokenizer says; then ``max_length`` must be set.
    """
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        if config.model_type in _PADDING_OFFSET_MODEL_TYPES:
            positions -= (getattr(config, "pad_token_id", None) or 0) + 1
        return int(positions)
    limit = getattr(tokenizer, "model_max_length", None)
    if limit and limit < 1_000_000:
        return int(limit)
    raise ValueError(
        "Neither the model config nor the tokenizer says how many tokens the model takes: set "
        "max_length."
    )


def find_lm_head(model: PreTrainedModel) -> str:
    """Return the attribute name of a ``*ForMaskedLM`` model's head (all but the encoder).

    Raises:
        ValueError: the head is not one module.
    """
    prefix = model.base_model_prefix
    heads = [name for name, _ in model.named_children() if name != prefix]
    if len(heads) != 1:
        raise ValueError(
            f"Cannot tell the masked-LM head of {type(model).__name__}: besides the encoder "
            f"{prefix!r} it has {heads}. Use a model whose head is one module (ESM, BERT, "
            "RoBERTa and most encoders)."
        )
    return heads[0]


UNUSED_SUBMODULES = ("contact_head",)
"""Submodules some encoders carry that a backbone never runs (ESM's contact predictor)."""


def freeze_unused(model: nn.Module) -> list[str]:
    """Freeze weights the forward pass never uses, so distributed training does not stall.

    Returns:
        list[str]: the names of the parameters frozen.
    """
    frozen = []
    for name, parameter in model.named_parameters():
        if any(part in UNUSED_SUBMODULES for part in name.split(".")):
            parameter.requires_grad_(False)
            frozen.append(name)
    return frozen

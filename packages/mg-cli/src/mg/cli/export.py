"""``mg export``: a trained task as a self-contained folder, and `load` to use it.

``mg export --config my.yaml --ckpt_path best --output DIR`` writes::

    DIR/backbone/          the backbone in Hugging Face format (LoRA merged in), when the
                           backbone can save itself; it loads through ``model_path``
    DIR/weights.safetensors  every other weight of the task (adapter, label statistics;
                           the backbone's too when it has no Hugging Face form)
    DIR/model.ckpt         the same weights as a slim Lightning checkpoint, which the
                           exported config names as its ckpt_path
    DIR/config.yaml        the resolved config, naming backbone/ and model.ckpt by paths
                           relative to DIR, with the class names learned in training and
                           no data files of the exporting machine
    DIR/export.json        task class, class names, source checkpoint name, versions

``mg predict --config DIR/config.yaml --data.init_args.predict_file new.csv`` then runs
from the folder alone, wherever it is copied, and ``mg.cli.load(DIR)`` returns the task,
ready to call. Both read the folder as data (`mg.cli.export_config`): only registered mg
components, never ``trust_remote_code``, no path outside the folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file, save_file

from mg.cli.export_config import CONFIG, RECORD, read_export_config
from mg.core.signatures import init_options

WEIGHTS = "weights.safetensors"
CHECKPOINT = "model.ckpt"
BACKBONE = "backbone"
DATA_SOURCES = frozenset(
    {
        # Genome coordinates (IntervalTrackData, VcfVariantData): the machine's files.
        "train",
        "val",
        "test",
        "predict",
        "tracks",
        "reference",
        "vcf",
        "path",
        "train_file",
        "val_file",
        "test_file",
        "predict_file",
        "predict_path",
        "split_column",
        "group_column",
        "hf_dataset",
        "hf_config",
        "label_table",
        "val_fraction",
        "test_fraction",
        "n_folds",
        "fold",
        "fold_column",
        "test_fold",
        "max_rows",
    }
)
"""Data options about the exporting machine's files and splits; an export drops them."""
MACHINE_TRAINER_OPTIONS = ("logger", "default_root_dir")
"""Trainer options that name the exporting machine's folders; mg's defaults apply instead."""
SKIPPED_BACKBONE_ARGS = {"model_path", "finetune", "lora_r", "lora_alpha", "lora_dropout"}
"""Options the exported backbone drops: its path is the export, LoRA is merged in."""


def load_weights(task: torch.nn.Module, folder: Path) -> None:
    """Load ``folder/weights.safetensors`` into a built task; every weight must fit.

    Raises:
        FileNotFoundError: the folder holds no export.
        RuntimeError: the weights do not fit the task (a different adapter or size).
    """
    path = folder / WEIGHTS
    if not path.exists():
        raise FileNotFoundError(
            f"No {WEIGHTS} in {str(folder)!r}: give a folder that `mg export` wrote."
        )
    weights = load_file(path)
    own = task.state_dict()
    missing = [k for k in own if k not in weights and not k.startswith("backbone.")]
    unexpected = [k for k in weights if k not in own]
    if missing or unexpected:
        raise RuntimeError(
            f"The export in {str(folder)!r} does not fit {type(task).__name__}: missing "
            f"{missing[:5]}, unexpected {unexpected[:5]}. Was config.yaml edited?"
        )
    torch.nn.Module.load_state_dict(task, weights, strict=False)


def _exported_backbone_class(backbone: torch.nn.Module) -> type | None:
    """The class that loads this backbone back from a Hugging Face folder, or None.

    A backbone that already reads ``model_path`` keeps its class; a tiny one built from
    config maps to the published family class it shares a tokenizer and architecture with.
    """
    if not hasattr(backbone, "save_pretrained"):
        return None
    own = type(backbone)
    if "model_path" in init_options(own):
        return own
    # A tiny backbone outside the Hugging Face families (cells, Enformer) names the
    # registered family that reads its saved folder.
    reloads_as = getattr(own, "reloads_as", None)
    if reloads_as is not None:
        from mg.core.registry import load as load_component

        return load_component("backbones", reloads_as)
    from mg.backbones.huggingface import HFBackbone

    for family in own.__mro__[1:]:
        if not family.__name__.endswith("Family"):
            continue
        for candidate in _subclasses(family):
            if issubclass(candidate, HFBackbone) and candidate.__mro__[1] is family:
                return candidate
        break
    return HFBackbone


def _inline_gene_file(backbone_spec: dict[str, Any], backbone: Any) -> None:
    """Write a cell backbone's genes into the config when the option names a file.

    The file lives on the exporting machine; the export must carry the genes itself.
    """
    init_args = backbone_spec.get("init_args") or {}
    if isinstance(init_args.get("genes"), str) and hasattr(backbone, "gene_vocabulary"):
        init_args["genes"] = list(backbone.gene_vocabulary().genes)


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _resolve_checkpoint(wanted: str, cli: Any) -> Path:
    """Turn ``best``/``last`` into this experiment's checkpoint, as every mg command does."""
    from mg.cli.checkpointing import local_checkpoint

    if wanted in ("best", "last"):
        found = cli.find_run_checkpoint(wanted)
        print(f"Exporting the {wanted} checkpoint {found.path}", file=sys.stderr, flush=True)
        return found.path
    return local_checkpoint(wanted)


def _check_target(output: Path, overwrite: bool) -> None:
    """Refuse to write into a folder that holds anything, unless asked to replace it."""
    if output.exists() and not output.is_dir():
        raise NotADirectoryError(f"--output {output}: a file, not a folder; give a new folder.")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise FileExistsError(
            f"--output {output}: the folder is not empty; give a new or empty folder, or add "
            "--overwrite to replace the export in it."
        )


def _learned_class_names(task: Any, datamodule: Any, state: dict[str, Any]) -> list[str] | None:
    """Class names the task was trained with: the task's, the data module's, the checkpoint's."""
    names = getattr(task, "class_names", None) or getattr(datamodule, "class_names", None)
    if not names:
        saved = state.get(type(datamodule).__qualname__)
        names = saved.get("class_names") if isinstance(saved, dict) else None
    return [str(name) for name in names] if names else None


def _portable_config(config: dict[str, Any], class_names: list[str] | None) -> dict[str, Any]:
    """The config without the exporting machine's files, folders and splits."""
    data = config.get("data") or {}
    init_args = {k: v for k, v in (data.get("init_args") or {}).items() if k not in DATA_SOURCES}
    if class_names:
        init_args["class_names"] = class_names
    config["data"] = {**data, "init_args": init_args}
    for option in MACHINE_TRAINER_OPTIONS:
        config["trainer"].pop(option, None)
    return config


def export(args: list[str], ckpt_path: str, output: Path, overwrite: bool = False) -> Path:
    """Write the export folder of the task that ``args`` configure, with trained weights.

    Args:
        args (list[str]): config options, as for `mg fit` (``--config my.yaml ...``).
        ckpt_path (str): ``best``, ``last`` or a checkpoint file.
        output (Path): the export folder: new or empty, unless ``overwrite``.
        overwrite (bool): replace the files of an earlier export in ``output``.

    Returns:
        Path: the folder.
    """
    from mg.cli.checkpointing import load_checkpoint_file
    from mg.cli.lightning import MGCLI
    from mg.cli.runinfo import run_versions

    output = output.resolve()
    _check_target(output, overwrite)
    cli = MGCLI(list(args), run=False)
    checkpoint = _resolve_checkpoint(ckpt_path, cli)
    state = load_checkpoint_file(checkpoint)
    task = cli.model
    task.configure_model()
    task.on_load_checkpoint(state)
    task.load_state_dict(state["state_dict"])
    task.eval()

    output.mkdir(parents=True, exist_ok=True)
    if overwrite:
        shutil.rmtree(output / BACKBONE, ignore_errors=True)
    config = yaml.safe_load(cli.parser.dump(cli.config, skip_none=False, skip_check=True))
    class_names = _learned_class_names(task, cli.datamodule, state)
    config = _portable_config(config, class_names)
    backbone_spec = config["model"]["init_args"]["backbone"]
    _inline_gene_file(backbone_spec, task.backbone)
    target = _exported_backbone_class(task.backbone)
    weights = task.state_dict()
    if target is not None:
        task.backbone.save_pretrained(output / BACKBONE)
        accepted = init_options(target)
        init_args = {
            k: v
            for k, v in (backbone_spec.get("init_args") or {}).items()
            if k in accepted and k not in SKIPPED_BACKBONE_ARGS
        }
        init_args["model_path"] = BACKBONE  # relative to the folder, so a copy finds its own
        config["model"]["init_args"]["backbone"] = {
            "class_path": f"{target.__module__}.{target.__qualname__}",
            "init_args": init_args,
        }
        weights = {k: v for k, v in weights.items() if not k.startswith("backbone.")}
    weights = {k: v.detach().contiguous() for k, v in weights.items()}
    save_file(weights, output / WEIGHTS)
    # Named in the config, so `mg predict --config DIR/config.yaml` loads the trained
    # weights even when a later --config replaces the callbacks.
    config["ckpt_path"] = CHECKPOINT
    config["trainer"]["callbacks"] = [
        {
            "class_path": "mg.cli.writer.PredictionWriter",
            "init_args": {"output": "predictions.tsv"},
        },
        {"class_path": "mg.cli.callbacks.RunRecord"},
        {"class_path": "mg.cli.callbacks.CleanFailure"},
    ]
    (output / CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))
    # Build the task as the export describes it (a check that it loads), then write a slim
    # checkpoint for mg predict/test: the backbone's weights come from DIR/backbone, so the
    # task's own load_state_dict accepts them as omitted.
    rebuilt = load(output)
    slim = {
        "pytorch-lightning_version": state["pytorch-lightning_version"],
        "epoch": state.get("epoch", 0),
        "global_step": state.get("global_step", 0),
        "state_dict": weights,
        "mg": {"omitted_keys": [k for k in rebuilt.state_dict() if k not in weights]},
    }
    torch.save(slim, output / CHECKPOINT)
    record = {
        "task": f"{type(task).__module__}.{type(task).__qualname__}",
        "class_names": class_names,
        "checkpoint": checkpoint.name,
        "backbone_format": "huggingface" if target is not None else "in weights.safetensors",
        "versions": run_versions(),
    }
    (output / RECORD).write_text(json.dumps(record, indent=2))
    _share(output)
    return output


def _share(folder: Path) -> None:
    """Give every file of the export the umask's permissions (safetensors writes 0600)."""
    from mg.cli.checkpointing import shared_mode

    for path in [folder, *folder.rglob("*")]:
        path.chmod(shared_mode(directory=path.is_dir()))


def load(folder: str | Path) -> Any:
    """Return the task an export folder holds, built, with its weights, in eval mode.

    The folder is read as data (`mg.cli.export_config.read_export_config`): only its
    ``model`` section is built, from registered mg components.

    Args:
        folder (str | Path): a folder written by `mg export`.

    Returns:
        TaskInterface: call it on a batch from its ``collate``, or use ``predict_step``.

    Raises:
        FileNotFoundError: the folder holds no export.
        ExportConfigError: its config names an unregistered class or ``trust_remote_code``.
    """
    from lightning.pytorch.cli import LightningArgumentParser

    from mg.cli.lightning import import_plugins
    from mg.cli.startup import default_threads, quiet_start
    from mg.core.task import TaskInterface

    folder = Path(folder)
    config = read_export_config(folder)
    quiet_start()
    default_threads()
    import_plugins()
    parser = LightningArgumentParser(exit_on_error=False)
    parser.add_lightning_class_args(TaskInterface, "model", subclass_mode=True)
    parsed = parser.parse_object({"model": config["model"]})
    task = parser.instantiate_classes(parsed).model
    task.configure_model()
    load_weights(task, folder)
    return task.eval()


def push_to_hub(folder: Path, repo: str) -> str:
    """Upload the export folder to a Hugging Face Hub model repository.

    Raises:
        OSError: the Hub cannot be reached or refuses the upload; the export stays on disk.
    """
    try:
        from huggingface_hub import HfApi

        api = HfApi()
        api.create_repo(repo, repo_type="model", exist_ok=True)
        api.upload_folder(repo_id=repo, folder_path=str(folder), repo_type="model")
    except Exception as error:
        raise OSError(
            f"Could not push {folder} to the Hub repository {repo!r}: {error}. The export in "
            f"{folder} is complete; push it later with `hf upload {repo} {folder}` once the "
            "network and a token (`hf auth login`) are available."
        ) from error
    return f"https://huggingface.co/{repo}"


def main(args: list[str]) -> int:
    """Run ``mg export --config ... --ckpt_path best --output DIR [--push_to_hub REPO]``."""
    parser = argparse.ArgumentParser(
        prog="mg export",
        description="Write a trained task as a self-contained folder: the backbone in Hugging "
        "Face format (LoRA merged), the other weights as safetensors, the resolved config.",
        epilog="Other options (--config, --model.*, ...) are read as by `mg fit`.",
    )
    parser.add_argument("--ckpt_path", default="best", help="best, last or a .ckpt file")
    parser.add_argument("--output", type=Path, required=True, help="the export folder")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier export in --output"
    )
    # mg's options are snake_case like Lightning's (--ckpt_path); the kebab spelling still works.
    parser.add_argument(
        "--push_to_hub", "--push-to-hub", dest="repo", help="also upload to this Hub repository"
    )
    options, rest = parser.parse_known_args(args)
    folder = export(rest, options.ckpt_path, options.output, options.overwrite)
    print(f"Exported to {folder}")
    print(f"Predict with: mg predict --config {folder / CONFIG} --data.init_args.predict_file ...")
    if options.repo:
        print(f"Pushed to {push_to_hub(folder, options.repo)}", file=sys.stderr)
    return 0

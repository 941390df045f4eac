"""``mg export``: a trained task as a self-contained folder, and `load` to use it.

``mg export --config my.yaml --ckpt_path best --output DIR`` writes::

    DIR/backbone/          the backbone in Hugging Face format (LoRA merged in), when the
                           backbone can save itself; it loads through ``model_path``
    DIR/weights.safetensors  every other weight of the task (adapter, label statistics;
                           the backbone's too when it has no Hugging Face form)
    DIR/model.ckpt         the same weights as a slim Lightning checkpoint, which the
                           exported config names as its ckpt_path
    DIR/config.yaml        the resolved config, pointing at DIR/backbone and DIR/model.ckpt
    DIR/export.json        task class, class names, source checkpoint, versions

``mg predict --config DIR/config.yaml --data.init_args.predict_file new.csv`` then runs
from the folder alone, and ``mg.cli.load(DIR)`` returns the task, ready to call.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file, save_file

WEIGHTS = "weights.safetensors"
CHECKPOINT = "model.ckpt"
BACKBONE = "backbone"
CONFIG = "config.yaml"
RECORD = "export.json"
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
    if "model_path" in inspect.signature(own).parameters:
        return own
    from mg.backbones.huggingface import HFBackbone

    for family in own.__mro__[1:]:
        if not family.__name__.endswith("Family"):
            continue
        for candidate in _subclasses(family):
            if issubclass(candidate, HFBackbone) and candidate.__mro__[1] is family:
                return candidate
        break
    return HFBackbone


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _resolve_checkpoint(wanted: str, cli: Any) -> Path:
    """Turn ``best``/``last`` into the newest such file under the logger's folder."""
    if wanted not in ("best", "last"):
        path = Path(wanted)
        if not path.is_file():
            raise FileNotFoundError(f"Checkpoint {wanted!r} does not exist.")
        return path
    logger = cli.trainer.logger
    root = Path(logger.save_dir) / (logger.name or "") if logger else Path(".")
    pattern = "best-*.ckpt" if wanted == "best" else "last.ckpt"
    found = sorted(root.glob(f"*/checkpoints/{pattern}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(
            f"No {wanted} checkpoint under {root}: run `mg fit` with this config first, or "
            "pass --ckpt_path PATH/TO/FILE.ckpt."
        )
    return found[-1]


def export(args: list[str], ckpt_path: str, output: Path) -> Path:
    """Write the export folder of the task that ``args`` configure, with trained weights.

    Args:
        args (list[str]): config options, as for `mg fit` (``--config my.yaml ...``).
        ckpt_path (str): ``best``, ``last`` or a checkpoint file.
        output (Path): the export folder (created; files in it are replaced).

    Returns:
        Path: the folder.
    """
    from mg.cli.lightning import MGCLI
    from mg.cli.runinfo import run_versions

    cli = MGCLI(list(args), run=False)
    checkpoint = _resolve_checkpoint(ckpt_path, cli)
    task = cli.model
    task.configure_model()
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    task.on_load_checkpoint(state)
    task.load_state_dict(state["state_dict"])
    task.eval()

    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(cli.parser.dump(cli.config, skip_none=False, skip_check=True))
    backbone_spec = config["model"]["init_args"]["backbone"]
    target = _exported_backbone_class(task.backbone)
    weights = task.state_dict()
    if target is not None:
        task.backbone.save_pretrained(output / BACKBONE)
        accepted = inspect.signature(target).parameters
        init_args = {
            k: v
            for k, v in (backbone_spec.get("init_args") or {}).items()
            if k in accepted and k not in SKIPPED_BACKBONE_ARGS
        }
        init_args["model_path"] = str(output / BACKBONE)
        config["model"]["init_args"]["backbone"] = {
            "class_path": f"{target.__module__}.{target.__qualname__}",
            "init_args": init_args,
        }
        weights = {k: v for k, v in weights.items() if not k.startswith("backbone.")}
    weights = {k: v.detach().contiguous() for k, v in weights.items()}
    save_file(weights, output / WEIGHTS)
    # Named in the config, so `mg predict --config DIR/config.yaml` loads the trained
    # weights even when a later --config replaces the callbacks.
    config["ckpt_path"] = str(output / CHECKPOINT)
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
    class_names = getattr(task, "class_names", None) or getattr(cli.datamodule, "class_names", None)
    record = {
        "task": f"{type(task).__module__}.{type(task).__qualname__}",
        "class_names": list(class_names) if class_names else None,
        "checkpoint": str(checkpoint.resolve()),
        "backbone_format": "huggingface" if target is not None else "in weights.safetensors",
        "versions": run_versions(),
    }
    (output / RECORD).write_text(json.dumps(record, indent=2))
    return output


def load(folder: str | Path) -> Any:
    """Return the task an export folder holds, built, with its weights, in eval mode.

    Args:
        folder (str | Path): a folder written by `mg export`.

    Returns:
        TaskInterface: call it on a batch from its ``collate``, or use ``predict_step``.
    """
    from mg.cli.lightning import MGCLI

    folder = Path(folder)
    if not (folder / CONFIG).exists():
        raise FileNotFoundError(
            f"No {CONFIG} in {str(folder)!r}: give a folder that `mg export` wrote."
        )
    config = yaml.safe_load((folder / CONFIG).read_text())
    config.pop("ckpt_path", None)  # a subcommand option; building the task needs no checkpoint
    cli = MGCLI(["--config", yaml.safe_dump(config)], run=False)
    task = cli.model
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
    # mg's options are snake_case like Lightning's (--ckpt_path); the kebab spelling still works.
    parser.add_argument(
        "--push_to_hub", "--push-to-hub", dest="repo", help="also upload to this Hub repository"
    )
    options, rest = parser.parse_known_args(args)
    folder = export(rest, options.ckpt_path, options.output)
    print(f"Exported to {folder}")
    print(f"Predict with: mg predict --config {folder / CONFIG} --data.init_args.predict_file ...")
    if options.repo:
        print(f"Pushed to {push_to_hub(folder, options.repo)}", file=sys.stderr)
    return 0

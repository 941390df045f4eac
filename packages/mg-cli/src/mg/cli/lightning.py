"""The Lightning CLI behind ``mg fit|validate|test|predict`` and ``mg check``."""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from importlib.resources import files
from pathlib import Path
from typing import Any, NoReturn

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from mg.core.data import DataInterface
from mg.core.registry import GROUPS, load_all
from mg.core.task import TaskInterface

CONFIGS = files("mg.cli") / "configs"
DEFAULTS = str(CONFIGS / "defaults.yaml")
PREDICT_DEFAULTS = str(CONFIGS / "predict.yaml")
SUBCOMMAND_DEFAULTS = {
    "fit": [DEFAULTS],
    "validate": [DEFAULTS],
    "test": [DEFAULTS],
    "predict": [DEFAULTS, PREDICT_DEFAULTS],
}
STAGE_OF = {"fit": "fit", "validate": "validate", "test": "test", "predict": "predict"}


HARMLESS_WARNINGS = (
    # Lightning's own use of a torch API torch deprecated; nothing for a user to change.
    r".*isinstance\(treespec, LeafSpec\)",
    # Small data: epoch-level metrics are still logged.
    r".*is smaller than the logging interval",
    # mg tokenizes in the main process by default; `data.num_workers` is documented.
    r".*does not have many workers",
    # mg predict leaves out fit's checkpoint callback on purpose.
    r".*callbacks used to create the checkpoint need to be provided",
    # mg test/predict log to a run folder of their own, not the fitted run's.
    r".*The dirpath has changed from",
)
"""Messages of third-party warnings that say nothing a user of mg can act on."""

MAX_DEFAULT_THREADS = 4
"""Intra-op threads mg uses unless told otherwise (see docs/cli.md, "Threads")."""


class _NoTips(logging.Filter):
    """Drop Lightning's advertising tips (litlogger, litmodels)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not ("Tip:" in message or "litlogger" in message or "litmodels" in message)


def quiet_start() -> None:
    """Silence third-party tips and known harmless warnings; other warnings still show."""
    for pattern in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for name in ("lightning.pytorch", "lightning.fabric"):
        for logger in (logging.getLogger(name), logging.getLogger(f"{name}.utilities.rank_zero")):
            if not any(isinstance(f, _NoTips) for f in logger.filters):
                logger.addFilter(_NoTips())
            for handler in logger.handlers:
                if not any(isinstance(f, _NoTips) for f in handler.filters):
                    handler.addFilter(_NoTips())


def usable_cores() -> int:
    """CPU cores this process may use: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return cores


def idle_cores() -> int:
    """Usable cores that other processes leave free, by the 1-minute load average; at least 1."""
    cores = usable_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not available on this platform
        return cores
    return max(1, min(cores, int(cores - load + 0.5)))


def default_threads() -> int:
    """Set torch's intra-op threads to ``min(idle cores, 4)`` unless the user chose.

    torch starts one thread per core it sees. Beyond a few threads the small matrices of
    fine-tuning gain little, and on a busy machine threads that wait on each other's cores
    ran many times slower than one (benchmarks/startup.py). ``OMP_NUM_THREADS`` (or
    ``MKL_NUM_THREADS``) set by the user wins.

    Returns:
        int: the number of intra-op threads torch uses now.
    """
    import torch

    if "OMP_NUM_THREADS" not in os.environ and "MKL_NUM_THREADS" not in os.environ:
        torch.set_num_threads(min(idle_cores(), MAX_DEFAULT_THREADS))
    return torch.get_num_threads()


def import_plugins() -> None:
    """Import every registered component, so its short class name resolves in configs."""
    for kind in GROUPS:
        try:
            load_all(kind)
        except Exception as error:  # a broken third-party plugin must not break mg
            warnings.warn(f"could not import a registered {kind} plugin: {error}", stacklevel=2)


class MGArgumentParser(LightningArgumentParser):
    """A LightningArgumentParser whose errors name the component and the fix.

    Abbreviated options are refused: argparse would silently read ``--trainer.max_epoch``
    as ``--trainer.max_epochs``, hiding a typo that the next edit turns into an error.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def _option_names(self) -> list[str]:
        """Every option this parser and its subcommands take, without leading dashes."""
        parsers = [self]
        subcommands = getattr(self, "_subcommands_action", None)
        if subcommands is not None:
            parsers += list(subcommands._name_parser_map.values())
        return [o[2:] for p in parsers for o in p._option_string_actions if o.startswith("--")]

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        """Report a mistake in one line (the closest option, the component), no usage dump."""
        from mg.cli.parse_errors import explain, fail

        if not self.exit_on_error:
            super().error(message, ex)
        subcommand = re.search(r"Subcommand '(\w+)'", message)
        last = self.prog.split()[-1]  # the prog starts with sys.argv[0], not always "mg"
        named = subcommand.group(1) if subcommand else last if last in STAGE_OF else "fit"
        command = f"mg {named}"
        clear = explain(message, self._option_names(), command)
        if clear is None:
            clear = f"{message.strip()}\n(`{command} --help` lists every option.)"
        fail(clear)


class MGCLI(LightningCLI):
    """LightningCLI over any task (model) and data module, with mg's checks and defaults.

    Before a subcommand runs, the task, backbone, adapter and data module are checked
    against each other; a mismatch stops the run before any weights load.
    """

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        from mg.cli.parse_errors import check_config_files

        check_config_files(sys.argv[1:] if args is None else args)
        quiet_start()
        default_threads()
        import_plugins()
        parser_kwargs: dict[str, Any]
        if run:
            parser_kwargs = {k: {"default_config_files": v} for k, v in SUBCOMMAND_DEFAULTS.items()}
        else:
            parser_kwargs = {"default_config_files": [DEFAULTS]}
        # Lightning warns when args are given while sys.argv holds others: mg run in-process.
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run")
        super().__init__(
            model_class=TaskInterface,
            datamodule_class=DataInterface,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},
            parser_kwargs=parser_kwargs,
            auto_configure_optimizers=False,
            parser_class=MGArgumentParser,
            args=args,
            run=run,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Give ``mg predict`` its ``--output`` and ``--overwrite`` options."""
        if PREDICT_DEFAULTS not in parser.default_config_files:
            return
        parser.add_argument(
            "--output",
            type=str | None,
            default=None,
            help="File to write the predictions to (.tsv, .csv, .parquet, .pt, .npy); "
            "default: predictions.tsv inside the run folder.",
        )
        parser.add_argument(
            "--overwrite",
            type=bool,
            default=False,
            help="Replace an existing predictions file instead of stopping.",
        )

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        """Build the trainer, pointing its prediction writers at ``--output``.

        The rich progress bar shows metrics with significant digits: its ``.3f`` shows
        a loss of 3e-5 as 0.000.
        """
        from lightning.pytorch.callbacks import RichProgressBar

        from mg.cli.writer import PredictionWriter

        trainer = super().instantiate_trainer(**kwargs)
        options = self.config.get(self.subcommand, {}) if self.subcommand else {}
        for callback in trainer.callbacks:
            if isinstance(callback, PredictionWriter):
                callback.redirect(options.get("output"), bool(options.get("overwrite")))
            if isinstance(callback, RichProgressBar) and callback.theme.metrics_format == ".3f":
                callback.theme.metrics_format = ".4g"
        return trainer

    def preflight(self, stage: str) -> None:
        """Raise `IncompatibleError` unless task, backbone, adapter and data fit together."""
        self.model.compatibility(self.datamodule, stage).raise_if_incompatible()

    def resolve_checkpoint(self, subcommand: str) -> None:
        """Turn ``--ckpt_path best|last`` into the newest such file of this config's runs.

        Lightning knows "best" only within the process that fitted; mg runs each
        subcommand in its own process, so it looks in the logger's run folders instead.
        """
        arguments = self.config_init[subcommand]
        wanted = arguments.get("ckpt_path")
        if wanted not in ("best", "last"):
            return
        logger = self.trainer.logger
        root = (
            Path(logger.save_dir) / (logger.name or "")
            if logger
            else Path(self.trainer.default_root_dir)
        )
        pattern = "best-*.ckpt" if wanted == "best" else "last.ckpt"
        found = sorted(root.glob(f"*/checkpoints/{pattern}"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise FileNotFoundError(
                f"No {wanted} checkpoint under {root}: run `mg fit` with this config first, "
                "or pass --ckpt_path PATH/TO/FILE.ckpt."
            )
        arguments["ckpt_path"] = str(found[-1])
        print(f"Using the {wanted} checkpoint {found[-1]}", file=sys.stderr)

    def before_fit(self) -> None:
        """Check before fitting."""
        self.preflight("fit")

    def before_validate(self) -> None:
        """Check and find the checkpoint before validating."""
        self.preflight("validate")
        self.resolve_checkpoint("validate")

    def before_test(self) -> None:
        """Check and find the checkpoint before testing."""
        self.preflight("test")
        self.resolve_checkpoint("test")

    def before_predict(self) -> None:
        """Check and find the checkpoint before predicting."""
        self.preflight("predict")
        self.resolve_checkpoint("predict")


def run(args: list[str]) -> int:
    """Run ``mg fit|validate|test|predict`` with the given arguments."""
    MGCLI(args)
    return 0

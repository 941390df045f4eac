"""The Lightning CLI behind ``mg fit|validate|test|predict`` and ``mg check``."""

from __future__ import annotations

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


def import_plugins() -> None:
    """Import every registered component, so its short class name resolves in configs."""
    for kind in GROUPS:
        try:
            load_all(kind)
        except Exception as error:  # a broken third-party plugin must not break mg
            warnings.warn(f"could not import a registered {kind} plugin: {error}", stacklevel=2)


class MGArgumentParser(LightningArgumentParser):
    """A LightningArgumentParser whose errors name the component and the fix."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        """Rewrite known mistakes into one sentence, then report as usual."""
        from mg.cli.parse_errors import explain

        clear = explain(message)
        if clear is None or not self.exit_on_error:
            super().error(message, ex)
        print(f"mg: error: {clear}", file=sys.stderr)
        sys.exit(2)


class MGCLI(LightningCLI):
    """LightningCLI over any task (model) and data module, with mg's checks and defaults.

    Before a subcommand runs, the task, backbone, adapter and data module are checked
    against each other; a mismatch stops the run before any weights load.
    """

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
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

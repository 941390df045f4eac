"""The Lightning CLI behind ``mg fit|validate|test|predict`` and ``mg check``."""

from __future__ import annotations

import re
import sys
import warnings
from importlib.resources import files
from typing import Any, NoReturn

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from mg.cli.startup import default_threads, quiet_start
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
    import mg.cli.strategies  # noqa: F401  (mg's strategies: `--trainer.strategy BackboneFSDPStrategy`)

    for kind in GROUPS:
        try:
            load_all(kind)
        except Exception as error:  # a broken third-party plugin must not break mg
            warnings.warn(f"could not import a registered {kind} plugin: {error}", stacklevel=2)


def _always_callbacks() -> list[Any]:
    """Callbacks every run gets, whatever its config lists: exact resume, clean Ctrl-C."""
    from mg.cli.callbacks import ExactResume, GracefulInterrupt

    return [ExactResume(), GracefulInterrupt()]


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
        named = (
            subcommand.group(1) if subcommand else last if last in SUBCOMMAND_DEFAULTS else "fit"
        )
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
        from mg.cli.export_config import open_export_configs
        from mg.cli.parse_errors import check_config_files

        args = list(sys.argv[1:] if args is None else args)
        check_config_files(args)
        # An export's config.yaml is a file from elsewhere: checked as data, paths made its own.
        args = open_export_configs(args)
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
        # Lightning warns on every mid-epoch resume because mg's DataLoader is no `_Stateful`
        # loader. It is wrong for mg: the data module's checkpointed position and
        # `ExactResume` restore the training order and random state, and a resumed fit ends
        # bitwise on the uninterrupted run's weights (test_lifecycle.py checks it).
        warnings.filterwarnings("ignore", message=".*before the epoch ended and your dataloader")
        super().__init__(
            model_class=TaskInterface,
            datamodule_class=DataInterface,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},
            parser_kwargs=parser_kwargs,
            auto_configure_optimizers=False,
            parser_class=MGArgumentParser,
            trainer_defaults={"callbacks": _always_callbacks()},
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

    def before_instantiate_classes(self) -> None:
        """Stop, in one line, when the config needs an optional package that is missing.

        Runs after parsing and before any class is built, so before any weights load.
        """
        from mg.cli.needs import missing

        config = self.config[self.subcommand] if self.subcommand else self.config
        problems = missing(config.as_dict())
        if problems:
            # Exit 1 like any other mistake in the input; 2 stays for parse errors.
            print(f"mg: error: {'; '.join(problems)}.", file=sys.stderr)
            sys.exit(1)

    def _parse_ckpt_path(self) -> None:
        """Check ``--ckpt_path`` early; never let a checkpoint change the config.

        Lightning's version merges a checkpoint's ``hyper_parameters`` into the ``model``
        section, so a crafted file could swap the backbone (with ``trust_remote_code``) or
        the optimizer before any check. mg writes no hyper_parameters: the config alone
        decides the run, and a checkpoint only ever supplies weights and training state.
        A named file is read here through mg's one reader, so a truncated, foreign or
        code-carrying file is one error naming it before any model is built.
        """
        from mg.cli.checkpointing import load_checkpoint_file

        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        wanted = self.config[subcommand].get("ckpt_path")
        if wanted is not None and wanted not in ("best", "last"):
            load_checkpoint_file(wanted, mmap=True)

    def preflight(self, stage: str) -> None:
        """Check options, parts, columns, sequences and labels before any run folder.

        Raises:
            IncompatibleError: task, backbone, adapter and data do not fit together.
            ValueError: an option, a sequence or a label is wrong.
        """
        if stage == "fit":
            self._check_fit_options()
        self.model.check_data(self.datamodule, stage)

    def _check_fit_options(self) -> None:
        """Refuse options that would fail late or never end, naming the option.

        Raises:
            ValueError: a learning rate that is not positive, or ``max_epochs: -1`` with no
                other limit (Lightning would train until stopped by hand).
        """
        config = self.resolved_config()
        optimizer = ((config.get("model") or {}).get("init_args") or {}).get("optimizer")
        lr = ((optimizer or {}).get("init_args") or {}).get("lr")
        if isinstance(lr, int | float) and lr <= 0:
            raise ValueError(
                f"model.init_args.optimizer.init_args.lr is {lr}: a learning rate must be "
                "positive (e.g. --model.init_args.optimizer.init_args.lr 1e-4)."
            )
        trainer = config.get("trainer") or {}
        unlimited = trainer.get("max_epochs") == -1 and trainer.get("max_steps") in (-1, None)
        if unlimited and trainer.get("max_time") is None:
            raise ValueError(
                "trainer.max_epochs is -1, which trains until stopped by hand: give a number "
                "of epochs (--trainer.max_epochs 10), or a --trainer.max_steps or "
                "--trainer.max_time limit."
            )

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        """Build the trainer: mg's checkpoint writer, prediction writers at ``--output``.

        The checkpoint writer is atomic and local, and reads no code. Lightning's default
        model summary and progress bar become mg's shorter ones (`mg.cli.console`).
        """
        from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

        from mg.cli.checkpointing import AtomicCheckpointIO
        from mg.cli.console import tidy_trainer
        from mg.cli.records import keep_csv_record
        from mg.cli.writer import PredictionWriter

        trainer = super().instantiate_trainer(**kwargs)
        strategy = trainer.strategy
        # A user's own CheckpointIO plugin stays; Lightning's default one is replaced.
        if type(strategy.checkpoint_io) is TorchCheckpointIO:
            strategy.checkpoint_io = AtomicCheckpointIO()
        options = self.config.get(self.subcommand, {}) if self.subcommand else {}
        for callback in trainer.callbacks:
            if isinstance(callback, PredictionWriter):
                callback.redirect(options.get("output"), bool(options.get("overwrite")))
        tidy_trainer(trainer)
        keep_csv_record(trainer)
        return trainer

    def _prepare_subcommand_kwargs(self, subcommand: str) -> dict[str, Any]:
        """The subcommand's arguments; validate and test print mg's metrics line, not a table."""
        kwargs = super()._prepare_subcommand_kwargs(subcommand)
        if "verbose" in kwargs:
            kwargs["verbose"] = False
        return kwargs

    def _run_subcommand(self, subcommand: str) -> None:
        """Run a subcommand; a checkpoint that does not fit is one error naming the file."""
        from mg.cli.checkpointing import guard_restore

        guard_restore(self.trainer)
        super()._run_subcommand(subcommand)

    def resolved_config(self) -> dict[str, Any]:
        """This command's resolved config, as it is written to a run's config.yaml."""
        import yaml

        if self.subcommand:
            parser, config = self._parser(self.subcommand), self.config[self.subcommand]
        else:
            parser, config = self.parser, self.config
        return yaml.safe_load(parser.dump(config, skip_none=False, skip_check=True))

    def find_run_checkpoint(self, wanted: str) -> Any:
        """Resolve ``best`` or ``last`` among the runs of this experiment (see `mg.cli.runs`).

        Returns:
            FoundCheckpoint: the file, its run's version, epoch and step.

        Raises:
            ValueError: the logger keeps no run folders.
            FileNotFoundError: no run of this experiment wrote such a checkpoint.
        """
        from mg.cli.runs import find_checkpoint, logger_root, run_identity

        logger = self.trainer.logger
        root = logger_root(logger)
        if root is None:
            raise ValueError(
                f"--ckpt_path {wanted} needs a logger that keeps run folders (the default "
                "CSVLogger); pass --ckpt_path PATH/TO/FILE.ckpt instead."
            )
        version = getattr(logger, "_version", None)
        return find_checkpoint(root, wanted, run_identity(self.resolved_config()), version)

    def prepare_run(self, subcommand: str) -> None:
        """Find ``--ckpt_path best|last`` in this experiment's runs, and claim the run folder.

        ``best``/``last`` resolve only among the runs of this experiment (same model and
        training data in their config.yaml; a new predict or test file is the same
        experiment), never another one's. ``fit`` then resumes into that run's folder;
        otherwise, the next free version folder is created exclusively, so that runs
        started together never share one.
        """
        from mg.cli.runs import (
            claim_run_folder,
            is_launched_rank,
            keep_metrics_history,
            logger_root,
        )

        arguments = self.config_init[subcommand]
        wanted = arguments.get("ckpt_path")
        logger = self.trainer.logger
        root = logger_root(logger)
        resumed_version = None
        if wanted in ("best", "last"):
            found = self.find_run_checkpoint(wanted)
            arguments["ckpt_path"] = str(found.path)
            if subcommand == "fit":
                resumed_version = found.version
            if subcommand == "fit" and not is_launched_rank():
                print(
                    f"Resuming fit from the {wanted} checkpoint {found.path} (epoch "
                    f"{found.epoch}, step {found.step}); logs and checkpoints continue in "
                    f"{found.path.parent.parent}.",
                    file=sys.stderr,
                    flush=True,
                )
            elif not is_launched_rank():
                print(f"Using the {wanted} checkpoint {found.path}", file=sys.stderr, flush=True)
        elif wanted is not None:
            from mg.cli.checkpointing import local_checkpoint

            local_checkpoint(wanted)
            if subcommand == "fit" and not is_launched_rank():
                print(
                    f"Resuming fit from {wanted}, in a new run folder.", file=sys.stderr, flush=True
                )
        if root is not None:
            claim_run_folder(logger, root, resumed_version)
        if resumed_version is not None:
            keep_metrics_history(logger, found.step)

    def before_fit(self) -> None:
        """Check, find the checkpoint to resume and claim the run folder before fitting."""
        self.preflight("fit")
        self.prepare_run("fit")

    def before_validate(self) -> None:
        """Check and find the checkpoint before validating."""
        self.preflight("validate")
        self.prepare_run("validate")

    def before_test(self) -> None:
        """Check and find the checkpoint before testing."""
        self.preflight("test")
        self.prepare_run("test")

    def before_predict(self) -> None:
        """Check and find the checkpoint before predicting."""
        self.preflight("predict")
        self.prepare_run("predict")


def run(args: list[str]) -> int:
    """Run ``mg fit|validate|test|predict`` with the given arguments.

    Returns:
        int: 0, or 130 after Ctrl-C and 143 after SIGTERM (the shell's codes for them), once
        the interrupted fit has saved ``last.ckpt``.
    """
    import signal

    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from mg.cli.callbacks import BestAndLastCheckpoint, GracefulInterrupt
    from mg.cli.runs import is_launched_rank

    BestAndLastCheckpoint.interrupted = None
    try:
        MGCLI(args)
    except SIGTERMException:
        received = GracefulInterrupt.received or signal.SIGTERM
        if not is_launched_rank():
            name = "Ctrl-C" if received == signal.SIGINT else "SIGTERM"
            saved = BestAndLastCheckpoint.interrupted
            if saved is None:
                print(f"mg: stopped by {name}.", file=sys.stderr, flush=True)
            else:
                print(
                    f"mg: stopped by {name} in epoch {saved.epoch} after step {saved.step}; saved "
                    f"{saved.checkpoint}. Resume with: {_resume_command(args)}",
                    file=sys.stderr,
                    flush=True,
                )
        return 128 + int(received)
    return 0


def _resume_command(args: list[str]) -> str:
    """The command line that resumes an interrupted fit: the same, with ``--ckpt_path last``."""
    import shlex

    kept: list[str] = []
    skip = False
    for argument in args:
        if skip:
            skip = False
            continue
        if argument == "--ckpt_path":
            skip = True
            continue
        if argument.startswith("--ckpt_path="):
            continue
        kept.append(argument)
    return shlex.join(["mg", *kept, "--ckpt_path", "last"])

"""The search space file of ``mg sweep``: read it, check it, and draw a trial's options.

A space file is YAML::

    metric: val_loss            # the logged value to optimise (default val_loss)
    direction: minimize         # or maximize (default minimize)
    pruner: {name: MedianPruner, n_startup_trials: 2}   # any optuna.pruners class, or none
    sampler: {name: TPESampler, seed: 0}                # any optuna.samplers class
    parameters:
      model.init_args.optimizer.init_args.lr: {low: 1.0e-4, high: 1.0e-1, log: true}
      model.init_args.adapter.init_args.dropout: {low: 0.0, high: 0.5}
      trainer.max_epochs: {low: 1, high: 4}                     # ints stay ints
      model.init_args.adapter: {choices: [LinearMeanPoolAdapter, LinearCLSAdapter]}

Every key under ``parameters`` is a config option written as on the command line without
its leading dashes. This module imports nothing heavy: Optuna only where a trial is drawn.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TOP_KEYS = ("metric", "direction", "pruner", "sampler", "parameters")
NUMBER_KEYS = ("low", "high", "log", "step", "type")
CHOICE_KEYS = ("choices",)


@dataclass(frozen=True)
class Parameter:
    """One searched option.

    Attributes:
        path (str): the option, e.g. ``model.init_args.optimizer.init_args.lr``.
        kind (str): ``"float"``, ``"int"`` or ``"choice"``.
        low (float | int | None): the smallest value of a number.
        high (float | int | None): the largest value of a number.
        log (bool): draw a number uniformly in log space.
        step (float | int | None): the spacing of a number's values, if any.
        choices (tuple[Any, ...]): the values of a choice, as written in the file.
    """

    path: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def labels(self) -> list[bool | int | float | str | None]:
        """The values Optuna stores for a choice: plain values as they are, others as JSON."""
        return [_label(c) for c in self.choices]

    def probes(self) -> list[Any]:
        """Values to check the option accepts before any trial: both bounds, or every choice."""
        return [self.low, self.high] if self.kind != "choice" else list(self.choices)


@dataclass(frozen=True)
class Space:
    """A parsed space file.

    Attributes:
        source (Path): the file.
        metric (str): the logged value to optimise.
        direction (str): ``"minimize"`` or ``"maximize"``.
        parameters (tuple[Parameter, ...]): the searched options.
        pruner (dict[str, Any] | None): the Optuna pruner's name and options; None for none.
        sampler (dict[str, Any] | None): the Optuna sampler's name and options; None for TPE.
    """

    source: Path
    metric: str
    direction: str
    parameters: tuple[Parameter, ...]
    pruner: dict[str, Any] | None = field(default_factory=lambda: {"name": "MedianPruner"})
    sampler: dict[str, Any] | None = None


def _label(value: Any) -> bool | int | float | str | None:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True)


def option_value(value: Any) -> str:
    """Write a value as a command-line option's value (mappings and lists as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def _fail(source: Path, where: str, message: str) -> ValueError:
    return ValueError(f"{source}: {where}: {message}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parameter(source: Path, path: Any, spec: Any) -> Parameter:
    where = f"parameters.{path}"
    if not isinstance(path, str) or not path or path.startswith("-") or " " in path:
        raise _fail(source, where, "write each option as on the command line, without dashes.")
    if not isinstance(spec, dict):
        raise _fail(source, where, "give {low: ..., high: ...} for a number or {choices: [...]}.")
    if "choices" in spec:
        unknown = sorted(set(spec) - set(CHOICE_KEYS))
        if unknown:
            raise _fail(source, where, f"unknown key(s) {unknown} beside choices.")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise _fail(source, where, "choices must be a non-empty list.")
        labels = [_label(c) for c in choices]
        if len(set(map(json.dumps, labels))) != len(labels):
            raise _fail(source, where, f"choices {choices} repeat a value.")
        return Parameter(path, "choice", choices=tuple(choices))
    unknown = sorted(set(spec) - set(NUMBER_KEYS))
    if unknown:
        raise _fail(
            source,
            where,
            f"unknown key(s) {unknown}; a number takes {list(NUMBER_KEYS)}, a choice 'choices'.",
        )
    low, high = spec.get("low"), spec.get("high")
    if not (_is_number(low) and _is_number(high)):
        raise _fail(source, where, f"low and high must be numbers (got {low!r}, {high!r}).")
    kind = spec.get("type", "int" if isinstance(low, int) and isinstance(high, int) else "float")
    if kind not in ("int", "float"):
        raise _fail(source, where, f"type {kind!r} is not int or float.")
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise _fail(source, where, f"type int needs whole bounds (got {low}, {high}).")
    if not low < high:
        raise _fail(source, where, f"low ({low}) must be below high ({high}).")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise _fail(source, where, f"log must be true or false (got {log!r}).")
    if log and low <= 0:
        raise _fail(source, where, f"log: true needs low > 0 (got {low}).")
    step = spec.get("step")
    if step is not None and (not _is_number(step) or step <= 0 or log):
        raise _fail(source, where, "step must be a positive number, and cannot go with log.")
    if kind == "int":
        low, high = int(low), int(high)
        step = int(step) if step is not None else None
    elif not (math.isfinite(low) and math.isfinite(high)):
        raise _fail(source, where, "low and high must be finite.")
    return Parameter(path, kind, low=low, high=high, log=log, step=step)


def _component(source: Path, key: str, value: Any) -> dict[str, Any] | None:
    if value is None or value == "none":
        return None
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise _fail(source, key, "give {name: OptunaClassName, option: value, ...} or none.")
    return dict(value)


def read_space(path: str | Path) -> Space:
    """Read and check a space file.

    Args:
        path (str | Path): the YAML file.

    Returns:
        Space: the parsed space.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a valid space, with the key and the fix.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"--space {source}: no such file.")
    try:
        loaded = yaml.safe_load(source.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{source}:{line} is not valid YAML; check the indentation.") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{source}: a space file is a mapping with a 'parameters' section.")
    unknown = sorted(set(loaded) - set(TOP_KEYS))
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {unknown}; a space file takes {TOP_KEYS}.")
    parameters = loaded.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise ValueError(
            f"{source}: 'parameters' must map at least one option to its range, e.g. "
            "model.init_args.optimizer.init_args.lr: {low: 1.0e-4, high: 1.0e-2, log: true}."
        )
    metric = loaded.get("metric", "val_loss")
    if not isinstance(metric, str) or not metric:
        raise _fail(source, "metric", f"must be the name of a logged value (got {metric!r}).")
    direction = loaded.get("direction", "minimize")
    if direction not in ("minimize", "maximize"):
        raise _fail(source, "direction", f"must be minimize or maximize (got {direction!r}).")
    return Space(
        source=source,
        metric=metric,
        direction=direction,
        parameters=tuple(_parameter(source, p, s) for p, s in parameters.items()),
        pruner=_component(source, "pruner", loaded.get("pruner", "MedianPruner")),
        sampler=_component(source, "sampler", loaded.get("sampler")),
    )


def suggest(trial: Any, space: Space) -> dict[str, Any]:
    """Draw each parameter's value for an Optuna trial.

    Args:
        trial (optuna.Trial): the trial.
        space (Space): the space.

    Returns:
        dict[str, Any]: each option's value as the config takes it (a choice as written).
    """
    values: dict[str, Any] = {}
    for p in space.parameters:
        if p.kind == "choice":
            labels = p.labels()
            picked = trial.suggest_categorical(p.path, labels)
            values[p.path] = p.choices[labels.index(picked)]
        elif p.kind == "int":
            step = p.step or 1
            values[p.path] = trial.suggest_int(p.path, p.low, p.high, step=step, log=p.log)
        else:
            values[p.path] = trial.suggest_float(p.path, p.low, p.high, step=p.step, log=p.log)
    return values


def option_args(values: dict[str, Any]) -> list[str]:
    """The command-line options that set these values."""
    return [item for path, v in values.items() for item in (f"--{path}", option_value(v))]

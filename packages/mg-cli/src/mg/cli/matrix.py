"""``mg matrix``: which backbone works with which task and adapter, and why not."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from mg.core.compat import CompatibilityReport, check_compatibility
from mg.core.registry import load_all


def compute_matrix() -> list[CompatibilityReport]:
    """Check every registered task with every backbone and every adapter of its type.

    Adapters of another type than a task accepts are left out: they never fit it.

    Returns:
        list[CompatibilityReport]: one report per (task, backbone, adapter) triple.
    """
    tasks, backbones, adapters = load_all("tasks"), load_all("backbones"), load_all("adapters")
    reports = []
    for task in tasks.values():
        fitting = [
            a for a in adapters.values() if task.adapter_type and issubclass(a, task.adapter_type)
        ]
        for adapter in fitting or [None]:
            for backbone in backbones.values():
                reports.append(check_compatibility(task, backbone, adapter))
    return reports


def render(reports: list[CompatibilityReport], style: str) -> str:
    """Render reports as ``"text"``, ``"markdown"`` or ``"json"``."""
    if style == "json":
        return json.dumps([{**asdict(r), "compatible": r.compatible} for r in reports], indent=2)
    backbones = list(dict.fromkeys(r.backbone for r in reports))
    rows: dict[tuple[str, str], dict[str, CompatibilityReport]] = {}
    for report in reports:
        rows.setdefault((report.task, report.adapter or "-"), {})[report.backbone] = report
    mark = {True: "yes", False: "no"} if style == "text" else {True: "✓", False: "✗"}
    header = ["task", "adapter", *backbones]
    body = [
        [task, adapter, *(mark[cells[b].compatible] if b in cells else "" for b in backbones)]
        for (task, adapter), cells in rows.items()
    ]
    if style == "markdown":
        return _markdown(reports)
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in [header, *body]
    ]
    compatible = sum(r.compatible for r in reports)
    lines.append(f"\n{compatible} of {len(reports)} triples compatible.")
    return "\n".join(lines) + "\n"


def _general(reason: str, task: str, backbone: str) -> str:
    """A reason without the names of its task and backbone, so that it can be shared."""
    general = reason.replace(f"; {backbone} has none", "")
    general = general.replace(backbone, "the backbone")
    return general.replace(f"{task} needs", "The task needs", 1)


def _markdown(reports: list[CompatibilityReport]) -> str:
    """One row per task (narrow enough for a page), the reasons grouped and numbered.

    A backbone that fits a task with only some of its adapters is listed with how many.
    Each reason is written once, without the task's and backbone's names, and the ✗ cells
    point to it by number.
    """
    by_task: dict[str, list[CompatibilityReport]] = {}
    for report in reports:
        by_task.setdefault(report.task, []).append(report)
    numbers: dict[str, int] = {}
    lines = [
        "| Task | Adapters it takes | ✓ Backbones that fit | ✗ Backbones that do not (why) |",
        "|---|---|---|---|",
    ]
    for task, found in by_task.items():
        adapters = list(dict.fromkeys(r.adapter for r in found if r.adapter))
        fits, misses = [], []
        for backbone in dict.fromkeys(r.backbone for r in found):
            cells = [r for r in found if r.backbone == backbone]
            good = sum(r.compatible for r in cells)
            if good == len(cells):
                fits.append(backbone)
            elif good:
                fits.append(f"{backbone} ({good} of {len(cells)} adapters)")
            else:
                why = {
                    numbers.setdefault(_general(reason, task, backbone), len(numbers) + 1)
                    for r in cells
                    for reason in r.reasons
                }
                misses.append(f"{backbone} [{', '.join(str(n) for n in sorted(why))}]")
        lines.append(
            f"| {task} | {', '.join(adapters) or '— (none)'} | {', '.join(fits) or '—'} | "
            f"{', '.join(misses) or '—'} |"
        )
    if numbers:
        lines += ["", "Why a backbone does not fit:", ""]
        lines += [f"{n}. {reason}" for reason, n in numbers.items()]
    return "\n".join(lines) + "\n"


def main(args: list[str]) -> int:
    """Print the matrix."""
    parser = argparse.ArgumentParser(
        prog="mg matrix", description=__doc__.splitlines()[0], allow_abbrev=False
    )
    parser.add_argument("--format", default="text", choices=["text", "markdown", "json"])
    options = parser.parse_args(args)
    print(render(compute_matrix(), options.format), end="")
    return 0

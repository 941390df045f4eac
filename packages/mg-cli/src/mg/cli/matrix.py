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
    reasons = sorted({reason for r in reports for reason in r.reasons})
    if style == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        notes = ["", "Why a cell says ✗:", ""] + [f"- {reason}" for reason in reasons]
        return "\n".join(lines + (notes if reasons else [])) + "\n"
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in [header, *body]
    ]
    compatible = sum(r.compatible for r in reports)
    lines.append(f"\n{compatible} of {len(reports)} triples compatible.")
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

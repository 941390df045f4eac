"""Versions of everything a run depends on, so a run can be repeated."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

MG_DISTRIBUTIONS = ("mg-core", "mg-adapters", "mg-backbones", "mg-tasks", "mg-cli")
THIRD_PARTY = ("torch", "lightning", "transformers", "torchmetrics", "jsonargparse", "peft")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def mg_versions() -> dict[str, str]:
    """Return the version of every installed mg distribution (no torch import)."""
    return {name: v for name in MG_DISTRIBUTIONS if (v := _version(name)) is not None}


def run_versions() -> dict[str, str]:
    """Return Python, platform, mg distributions and the libraries a run relies on."""
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    versions.update(mg_versions())
    versions.update({n: v for n in THIRD_PARTY if (v := _version(n)) is not None})
    return versions

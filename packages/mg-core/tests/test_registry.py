"""Plugins are found through entry points, listed without importing them."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from mg.core import registry


@pytest.fixture
def fake_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Install a tiny plugin distribution on sys.path, the way a wheel would lay it out."""
    module = "mg_fake_plugin_heads"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent('''
        class FancyAdapter:
            """A fancy head for tests.

            More text that mg list does not show.
            """
    ''')
    )
    info = tmp_path / "mg_fake_plugin-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mg-fake-plugin\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text(f"[mg.adapters]\nFancyAdapter = {module}:FancyAdapter\n")
    (info / "RECORD").write_text(f"{module}.py,,\n{info.name}/METADATA,,\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield module
    sys.modules.pop(module, None)


def test_plugin_is_listed_with_distribution_and_summary_unimported(
    fake_plugin: str,
) -> None:
    plugin = registry.plugins("adapters")["FancyAdapter"]
    assert (plugin.distribution, plugin.version) == ("mg-fake-plugin", "0.3.0")
    assert plugin.summary() == "A fancy head for tests."
    assert fake_plugin not in sys.modules, "listing imported the plugin"


def test_plugin_loads_lazily(fake_plugin: str) -> None:
    cls = registry.load("adapters", "FancyAdapter")
    assert cls.__name__ == "FancyAdapter" and fake_plugin in sys.modules


def test_unknown_name_lists_what_is_registered(fake_plugin: str) -> None:
    with pytest.raises(
        registry.PluginNotFoundError, match=r"No adapter named 'Fancy'.*FancyAdapter"
    ):
        registry.load("adapters", "Fancy")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(KeyError, match="Unknown plugin kind 'heads'"):
        registry.plugins("heads")

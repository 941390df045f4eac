"""A file format written by following only docs/adding-data-formats.md trains through `mg`.

The page's package (its reader module and pyproject.toml) is "installed" as pip would as
far as mg can tell (the module on the path, a ``.dist-info`` folder with its entry points),
then `mg list formats` must show the format and `mg fit` must train on an ``.a3m`` file.
No mg package is edited.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from doc_blocks import DOCS, blocks
from test_plugin_package import _install, _mg, _ok

PAGE = DOCS / "adding-data-formats.md"
PLUGIN = "mg-a3m/"
HYDROPHOBIC = "AILMFVW"
POLAR = "DEKRNQSTGH"


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("format")
    files = {
        b.title.removeprefix(PLUGIN): b.code
        for b in blocks(PAGE)
        if b.title and b.title.startswith(PLUGIN)
    }
    assert {"pyproject.toml", "a3m.yaml", "src/mg_a3m/reader.py"} <= set(files), sorted(files)
    site = root / "site"
    site.mkdir()
    _install(files, site)
    work = root / "work"
    work.mkdir()
    (work / "a3m.yaml").write_text(files["a3m.yaml"], encoding="utf-8")
    config = yaml.safe_load(files["a3m.yaml"])
    rng = random.Random(0)
    lines = []
    for index in range(40):
        share = rng.random()
        residues = [
            rng.choice(HYDROPHOBIC) if rng.random() < share else rng.choice(POLAR)
            for _ in range(rng.randint(12, 30))
        ]
        score = sum(r in HYDROPHOBIC for r in residues) / len(residues)
        # Insertions (lowercase) and gaps, which the reader drops, between residues.
        aligned = "".join(r + ("-" if k % 5 == 0 else "") for k, r in enumerate(residues))
        lines += [f">seq{index} score={score:.4f}", aligned[:6] + "kl" + aligned[6:]]
    (work / config["data"]["init_args"]["train_file"]).write_text("\n".join(lines) + "\n")
    return site, work


def test_mg_list_shows_the_format_only_when_installed(plugin: tuple[Path, Path]) -> None:
    site, work = plugin
    listed = _ok(_mg("list", "formats", cwd=work, site=site))
    line = next((row for row in listed.splitlines() if row.strip().startswith("a3m ")), "")
    assert "A3M" in line and "[mg-a3m 0.1.0]" in line, listed
    assert "a3m " not in _ok(_mg("list", "formats", cwd=work, site=None))


def test_mg_fit_trains_on_a_file_of_the_new_format(plugin: tuple[Path, Path]) -> None:
    site, work = plugin
    quick = ["--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false"]
    _ok(_mg("fit", "--config", "a3m.yaml", *quick, cwd=work, site=site))
    metrics = next(work.glob("**/metrics.csv")).read_text()
    assert "train_loss" in metrics
    # Without the package the same file is refused, naming the formats there are.
    refused = _mg("fit", "--config", "a3m.yaml", *quick, cwd=work, site=None)
    assert refused.returncode != 0
    assert "Cannot tell the format of family.a3m" in refused.stderr + refused.stdout

"""A task written by following only docs/adding-tasks.md runs through `mg` as a plugin.

The test takes the plugin's files from the page's own code blocks (the task module, its
pyproject.toml and its config), "installs" the package the way pip would as far as mg
can tell — the module on the path plus a ``.dist-info`` folder holding its entry points —
and runs ``mg list``, ``mg check``, ``mg fit`` and ``mg predict`` as a user would. No mg
package is edited, and nothing is downloaded.
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from doc_blocks import DOCS, blocks, named_block

PAGE = DOCS / "adding-tasks.md"
PLUGIN = "mg-gc-content/"
MG = Path(sys.executable).with_name("mg")


def _page_files() -> dict[str, str]:
    """Return the plugin's files as the page shows them: path inside the package → text."""
    return {
        b.title.removeprefix(PLUGIN): b.code
        for b in blocks(PAGE)
        if b.title and b.title.startswith(PLUGIN)
    }


def _install(files: dict[str, str], site: Path) -> dict:
    """Put the package's modules in ``site`` and write the metadata an installer would."""
    project = tomllib.loads(files["pyproject.toml"])["project"]
    written = []
    for name, text in files.items():
        if name.startswith("src/") and name.endswith(".py"):
            target = site / name.removeprefix("src/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)
    for package in {p.parent for p in written}:
        init = package / "__init__.py"
        if not init.exists():
            init.write_text("", encoding="utf-8")
            written.append(init)
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        encoding="utf-8",
    )
    lines = []
    for group, entries in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in entries.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    record = [f"{p.relative_to(site).as_posix()},," for p in written]
    record += [f"{dist.name}/{n},," for n in ("METADATA", "entry_points.txt", "RECORD")]
    (dist / "RECORD").write_text("\n".join(record) + "\n", encoding="utf-8")
    return project


def _mg(*args: str, cwd: Path, site: Path | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    env.pop("MG_DEBUG", None)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.run(
        [str(MG), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"`{' '.join(result.args[1:])}` exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-6000:]}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """The page's plugin installed into a site folder, and a work folder with data."""
    assert MG.exists(), f"the mg command is not installed beside {sys.executable}"
    root = tmp_path_factory.mktemp("plugin")
    files = _page_files()
    assert {"pyproject.toml", "gc.yaml", "src/mg_gc_content/task.py"} <= set(files), (
        f"{PAGE.name} no longer shows the plugin's files: found {sorted(files)}"
    )
    site = root / "site"
    site.mkdir()
    project = _install(files, site)
    work = root / "work"
    work.mkdir()
    (work / "gc.yaml").write_text(files["gc.yaml"], encoding="utf-8")
    config = yaml.safe_load(files["gc.yaml"])
    rng = random.Random(0)
    with (work / config["data"]["init_args"]["train_file"]).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "sequence"])
        for index in range(48):
            gc = rng.random()
            sequence = "".join(
                rng.choice("GC") if rng.random() < gc else rng.choice("AT")
                for _ in range(rng.randint(10, 30))
            )
            writer.writerow([f"seq{index}", sequence])
    return site, work, project


def test_the_page_shows_a_complete_plugin() -> None:
    project = tomllib.loads(named_block(PAGE, "gc-pyproject").code)["project"]
    assert project["entry-points"]["mg.tasks"] == {"GCContent": "mg_gc_content.task:GCContent"}
    config = yaml.safe_load(named_block(PAGE, "gc-config").code)
    assert config["model"]["class_path"] == "GCContent", "the config must use the short name"


def test_mg_list_finds_the_task_only_through_its_entry_point(plugin) -> None:
    site, work, project = plugin
    listed = _ok(_mg("list", "tasks", cwd=work, site=site))
    line = next((row for row in listed.splitlines() if "GCContent" in row), "")
    assert "Regress the GC fraction" in line, listed
    assert f"[{project['name']} {project['version']}]" in line, listed
    without = _ok(_mg("list", "tasks", cwd=work, site=None))
    assert "GCContent" not in without


def test_mg_check_accepts_the_page_config(plugin) -> None:
    site, work, _ = plugin
    out = _ok(_mg("check", "--config", "gc.yaml", cwd=work, site=site))
    assert "GCContent" in out and "compatible" in out


def test_mg_fit_then_predict_run_the_new_task(plugin) -> None:
    site, work, _ = plugin
    quick = [
        "--trainer.accelerator",
        "cpu",
        "--trainer.max_epochs",
        "1",
        "--trainer.enable_progress_bar",
        "false",
        "--data.init_args.batch_size",
        "8",
    ]
    _ok(_mg("fit", "--config", "gc.yaml", *quick, cwd=work, site=site))
    checkpoints = sorted(work.glob("runs/**/*.ckpt"))
    assert checkpoints, f"mg fit wrote no checkpoint under {work / 'runs'}"
    resolved = yaml.safe_load(next(work.glob("runs/**/config.yaml")).read_text())
    assert resolved["model"]["class_path"] == "mg_gc_content.task.GCContent"

    _ok(
        _mg(
            "predict",
            "--config",
            "gc.yaml",
            *quick,
            "--data.init_args.predict_file",
            "sequences.csv",
            "--ckpt_path",
            str(checkpoints[-1]),
            "--output",
            "predictions.tsv",
            cwd=work,
            site=site,
        )
    )
    with (work / "predictions.tsv").open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [row["ids"] for row in rows] == [f"seq{i}" for i in range(48)]
    assert all(0.0 - 1.0 < float(row["predictions"]) < 2.0 for row in rows)

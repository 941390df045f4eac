"""Run every tutorial as a reader would, only shorter.

In a fresh folder, the marked blocks of each tutorial page run in order: titled blocks
(configs, template files) are saved under their title, ``python -m mg.tasks.examples
DIR`` writes the example data, each ``mg ...`` line runs the mg command (in this process,
with options that cut training to a couple of batches), and Python blocks run in one
namespace. Every command must succeed.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from doc_blocks import DOCS, blocks, named_block, tutorial_pages

from mg.cli.main import TRAINING
from mg.cli.main import main as mg_main
from mg.tasks.data import write_examples

COMMON = [
    "--trainer.accelerator",
    "cpu",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
]
SHORTER = {
    "fit": [
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "2",
        "--trainer.limit_val_batches",
        "1",
    ],
    "validate": ["--trainer.limit_val_batches", "1"],
    "test": ["--trainer.limit_test_batches", "1"],
    "predict": ["--trainer.limit_predict_batches", "2"],
}
# mg cv fits and tests every fold: shorten both.
SHORTER["cv"] = [*SHORTER["fit"], *SHORTER["test"]]
# mg sweep fits every trial: shorten each.
SHORTER["sweep"] = SHORTER["fit"]


def _run_shell_line(line: str) -> None:
    words = shlex.split(line, comments=True)
    if not words:
        return
    if words[:3] == ["python", "-m", "mg.tasks.examples"] and len(words) == 4:
        assert write_examples(words[3]), "no example files written"
        return
    assert words[0] == "mg", f"the tutorial test cannot run {line!r}; mark the block otherwise"
    command = words[1]
    # Only the training commands take trainer options; `mg report` and the like run as written.
    extra = [*COMMON, *SHORTER.get(command, [])] if command in (*TRAINING, "cv", "sweep") else []
    status = mg_main([*words[1:], *extra])
    assert status == 0, f"`{line}` exited {status}"


def test_every_tutorial_is_tested() -> None:
    pages = tutorial_pages()
    assert {p.stem for p in pages} >= {
        "sequence-level",
        "token-and-pairwise",
        "generation",
        "embedding",
    }
    for page in pages:
        found = blocks(page)
        assert any(b.action == "run" and b.language == "bash" for b in found), page.name
        unmarked = [b.where for b in found if b.language == "python" and b.action is None]
        assert not unmarked, f"mark these python blocks: {unmarked}"


@pytest.mark.parametrize("page", [p.name for p in tutorial_pages()])
def test_tutorial_runs(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MG_DEBUG", "1")  # a failing command raises with its traceback
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    namespace: dict[str, object] = {"__name__": "tutorial"}
    path = DOCS / "tutorials" / page
    for block in blocks(path):
        if block.title and block.action != "skip":
            target = tmp_path / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code, encoding="utf-8")
        if block.action != "run":
            continue
        try:
            if block.language == "bash":
                for line in block.code.splitlines():
                    _run_shell_line(line)
            elif block.language == "python":
                exec(compile("\n" * (block.line - 1) + block.code, str(path), "exec"), namespace)
            else:
                raise AssertionError(f"cannot run a {block.language!r} block")
        except Exception as error:
            raise AssertionError(f"the tutorial step at {block.where} failed: {error!r}") from error


def test_quickstart_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The quickstart's commands, as written, in an empty folder (`mg init` comes first)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MG_DEBUG", "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    block = named_block(DOCS / "quickstart.md", "quickstart")
    assert block.action == "run" and block.language == "bash"
    for line in block.code.splitlines():
        _run_shell_line(line)
    # mg predict writes into its own run folder, not the current one
    assert not (tmp_path / "predictions.tsv").exists()
    (written,) = (tmp_path / "runs").rglob("predictions.tsv")
    assert written.read_text().startswith("ids\t")

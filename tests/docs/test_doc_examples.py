"""Run the code blocks of the documentation pages, so the examples cannot go stale.

Blocks marked ``<!-- test: run -->`` run in page order in one module namespace per page
(see doc_blocks.py). A block titled as a file under a ``src/`` folder is also written
there and the folder put on ``sys.path``, so later blocks can import it the way the page
tells readers to. Contract test classes a page defines (``Test...`` subclasses of the
mg.core.testing contracts) then run every test method, as pytest would in a plugin.
"""

from __future__ import annotations

import inspect
import random
import sys
import traceback
import types
from pathlib import Path

import pytest
import torch
from doc_blocks import DOCS, EXECUTED_PAGES, ROOT, blocks, runnable_pages

from mg.core.testing import contracts

CONTRACTS = (contracts.BackboneContract, contracts.AdapterContract, contracts.TaskContract)


@pytest.mark.parametrize("page", EXECUTED_PAGES)
def test_every_python_block_is_marked(page: str) -> None:
    found = blocks(DOCS / page)
    python = [b for b in found if b.language in ("python", "py")]
    unmarked = [b.where for b in python if b.action is None]
    assert not unmarked, (
        f"mark these blocks `<!-- test: run -->` (or `<!-- test: skip REASON -->`): {unmarked}"
    )
    assert all(b.reason for b in python if b.action == "skip"), "a skip marker needs a reason"
    assert any(b.action == "run" for b in python), f"{page} runs no example"


def test_the_adding_pages_are_among_the_executed_pages() -> None:
    names = {p.relative_to(DOCS).as_posix() for p in runnable_pages()}
    assert set(EXECUTED_PAGES) <= names


def _contract_classes(namespace: dict[str, object]) -> list[type]:
    return [
        value
        for name, value in namespace.items()
        if name.startswith("Test") and isinstance(value, type) and issubclass(value, CONTRACTS)
    ]


def _run_contract_tests(cls: type, tmp_path: Path) -> tuple[int, list[str]]:
    ran, failures = 0, []
    for name, method in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith("test_"):
            continue
        kwargs = {}
        if "tmp_path" in inspect.signature(method).parameters:
            kwargs["tmp_path"] = tmp_path / f"{cls.__name__}.{name}"
            kwargs["tmp_path"].mkdir()
        ran += 1
        try:
            getattr(cls(), name)(**kwargs)
        except Exception:
            failures.append(f"{cls.__name__}.{name}:\n{traceback.format_exc()}")
    return ran, failures


@pytest.mark.parametrize("page", [p.relative_to(DOCS).as_posix() for p in runnable_pages()])
def test_page_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = DOCS / page
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    random.seed(0)
    torch.manual_seed(0)
    module_name = "docs_example_" + page.removesuffix(".md").replace("/", "_").replace("-", "_")
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    monkeypatch.setitem(sys.modules, module_name, module)
    modules_before = set(sys.modules)
    source_roots: list[str] = []
    try:
        for block in blocks(path):
            if block.action != "run":
                continue
            if block.title and block.title.endswith(".py"):
                target = tmp_path / "files" / block.title
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.code, encoding="utf-8")
                if "/src/" in block.title:
                    root = str(tmp_path / "files" / block.title.split("/src/")[0] / "src")
                    if root not in sys.path:
                        sys.path.insert(0, root)
                        source_roots.append(root)
            # Pad so that tracebacks point at the block's lines in the markdown file.
            code = compile("\n" * (block.line - 1) + block.code, str(path), "exec")
            try:
                exec(code, module.__dict__)
            except Exception as error:
                raise AssertionError(f"the example at {block.where} failed: {error!r}") from error

        classes = _contract_classes(module.__dict__)
        if page in EXECUTED_PAGES:
            assert classes, f"{page} shows no contract test class (Test... subclassing a contract)"
        failures: list[str] = []
        for cls in classes:
            ran, failed = _run_contract_tests(cls, tmp_path)
            assert ran, f"{cls.__name__} collected no test methods"
            failures += failed
        assert not failures, "contract tests from the page failed:\n" + "\n".join(failures)
    finally:
        for root in source_roots:
            sys.path.remove(root)
        for name in set(sys.modules) - modules_before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if any(file.startswith(root) for root in source_roots):
                del sys.modules[name]


def test_marker_parser_reads_titles_names_and_skips(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        '<!-- test: run -->\n```python title="pkg/src/pkg/mod.py"\nx = 1\n```\n\n'
        "<!-- test: name=cfg -->\n\n```yaml\na: 1\n```\n"
        "<!-- test: skip (needs weights) -->\n```python\nload()\n```\n"
        "text between\n\n```python\nunmarked()\n```\n"
        "    <!-- test: run -->\n    ```python\n    indented = True\n    ```\n",
        encoding="utf-8",
    )
    found = blocks(page)
    assert [(b.action, b.name, b.title) for b in found] == [
        ("run", None, "pkg/src/pkg/mod.py"),
        (None, "cfg", None),
        ("skip", None, None),
        (None, None, None),
        ("run", None, None),
    ]
    assert found[0].code == "x = 1\n" and found[0].line == 3
    assert found[2].reason == "needs weights"
    assert found[4].code == "indented = True\n"
    assert ROOT.name  # the docs root resolves

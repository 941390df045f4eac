"""Find the code blocks of the documentation pages that tests run or reuse.

A fenced block is picked up when the line before it (blank lines aside) is a marker:

    <!-- test: run -->             run the block, in page order, in one namespace per page
    <!-- test: run name=ID -->     run it, and let tests find it by ID
    <!-- test: name=ID -->         do not run it; tests find it by ID (TOML, YAML, shell...)
    <!-- test: skip REASON -->     shown only; the reason says why it cannot run

On the pages listed in `EXECUTED_PAGES` every ``python`` block must carry one of these
markers, so a new example cannot slip in untested. A fence may carry a title
(```` ```python title="pkg/src/pkg/mod.py" ````): the title is the file the reader is
told to save the block as, and tests write it there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

EXECUTED_PAGES = ("adding-tasks.md", "adding-adapters.md", "adding-backbones.md")
"""Pages whose python blocks must all be marked, and which must run at least one block."""

TUTORIALS = DOCS / "tutorials"
"""Tutorial pages mix shell commands and Python; test_tutorials.py runs them."""

_MARKER = re.compile(r"^\s*<!--\s*test:\s*(?P<spec>.*?)\s*-->\s*$")
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
_TITLE = re.compile(r"""title\s*=\s*(?P<q>["'])(?P<title>.*?)(?P=q)""")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page.

    Attributes:
        page (Path): the markdown file.
        line (int): 1-based line of the block's first code line.
        language (str): the fence's language (``python``, ``toml``...), may be empty.
        title (str | None): the fence's ``title="..."``, if any.
        code (str): the block's text, dedented to the fence's indentation.
        action (str | None): ``"run"``, ``"skip"``, or None (unmarked or name only).
        name (str | None): the marker's ``name=``, if any.
        reason (str | None): the marker's skip reason.
    """

    page: Path
    line: int
    language: str
    title: str | None
    code: str
    action: str | None
    name: str | None
    reason: str | None

    @property
    def where(self) -> str:
        """``docs/page.md:LINE`` for messages."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _parse_marker(spec: str) -> tuple[str | None, str | None, str | None]:
    action = name = reason = None
    words = spec.split()
    if words and words[0] in ("run", "skip"):
        action = words.pop(0)
    if action == "skip":
        reason = " ".join(words).strip("()") or None
        return action, None, reason
    for word in words:
        key, _, value = word.partition("=")
        if key != "name" or not value:
            raise ValueError(f"unknown test marker {spec!r}; see tests/docs/doc_blocks.py")
        name = value
    return action, name, reason


def blocks(page: Path) -> list[Block]:
    """Return every fenced block of ``page``, in order, with its marker (if any)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    marker: tuple[str | None, str | None, str | None] | None = None
    index = 0
    while index < len(lines):
        text = lines[index]
        if match := _MARKER.match(text):
            marker = _parse_marker(match["spec"])
            index += 1
            continue
        fence = _FENCE.match(text)
        if fence is None:
            if text.strip():
                marker = None  # a marker applies to the very next block only
            index += 1
            continue
        indent, close = fence["indent"], fence["fence"]
        info = fence["info"].strip()
        language = info.split()[0].lstrip(".{") if info else ""
        title_match = _TITLE.search(info)
        body: list[str] = []
        index += 1
        start = index + 1
        while index < len(lines) and not lines[index].strip().startswith(close):
            line = lines[index]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            index += 1
        if index >= len(lines):
            raise ValueError(f"{page}:{start - 1}: code fence never closed")
        action, name, reason = marker or (None, None, None)
        found.append(
            Block(
                page,
                start,
                language,
                title_match["title"] if title_match else None,
                "\n".join(body) + "\n",
                action,
                name,
                reason,
            )
        )
        marker = None
        index += 1
    return found


def named_block(page: Path, name: str) -> Block:
    """Return the block of ``page`` marked ``name=NAME``."""
    matches = [b for b in blocks(page) if b.name == name]
    if len(matches) != 1:
        raise LookupError(f"{page.name} has {len(matches)} blocks named {name!r}, expected 1")
    return matches[0]


def runnable_pages() -> list[Path]:
    """Return every page outside the tutorials with a ``run`` python block, sorted."""
    return sorted(
        p
        for p in DOCS.rglob("*.md")
        if TUTORIALS not in p.parents
        and any(b.action == "run" and b.language == "python" for b in blocks(p))
    )


def tutorial_pages() -> list[Path]:
    """Return every tutorial page, sorted."""
    return sorted(TUTORIALS.glob("*.md"))

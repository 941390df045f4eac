"""``python -m mg.tasks.examples``: a real argument parser, so ``--help`` writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mg.tasks.data.examples import examples_folder


def _examples(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mg.tasks.examples", *args], cwd=cwd, capture_output=True, text=True
    )


def test_help_and_a_missing_folder_write_nothing(tmp_path: Path) -> None:
    shown = _examples(tmp_path, "--help")
    assert shown.returncode == 0 and "usage: python -m mg.tasks.examples" in shown.stdout
    assert _examples(tmp_path).returncode == 2
    assert list(tmp_path.iterdir()) == []


def test_the_command_rewrites_the_shipped_files_byte_for_byte(tmp_path: Path) -> None:
    result = _examples(tmp_path, "data")
    assert result.returncode == 0, result.stderr
    written = sorted((tmp_path / "data").iterdir())
    assert len(written) == len(result.stdout.splitlines()) == 19
    for path in written:
        assert path.read_bytes() == (examples_folder() / path.name).read_bytes(), path.name

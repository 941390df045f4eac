"""mg's own options are snake_case like Lightning's (``--ckpt_path``); old kebab spellings
still parse."""

from __future__ import annotations

import subprocess
import sys


def test_export_takes_push_to_hub_in_both_spellings() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mg.cli", "export", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "--push_to_hub REPO, --push-to-hub REPO" in result.stdout
    assert "--ckpt_path" in result.stdout

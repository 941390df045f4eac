"""Draw the report figures shown in docs/tutorials/recipes.md from a real quickstart run.

Run from the repository root: ``uv run python docs/gen_report_figures.py``. It fits the
quickstart config (shipped example data, tiny BERT-style DNA model, CPU, about a
minute), tests the best checkpoint, renders ``mg report`` for both runs and copies the
learning curves and the ROC/PR figure into docs/images/.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from mg.cli.main import main

ROOT = Path(__file__).parents[1]
IMAGES = ROOT / "docs" / "images"


def write() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        quiet = [
            "--config",
            str(ROOT / "configs" / "quickstart.yaml"),
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.accelerator",
            "cpu",
            "--trainer.logger.init_args.save_dir",
            scratch,
        ]
        assert main(["fit", *quiet]) == 0
        assert main(["test", *quiet, "--ckpt_path", "best"]) == 0
        runs = Path(scratch) / "mg"
        for run in ("version_0", "version_1"):
            assert main(["report", str(runs / run)]) == 0
        IMAGES.mkdir(exist_ok=True)
        shutil.copy(runs / "version_0" / "report" / "learning_curves.png", IMAGES)
        shutil.copy(runs / "version_1" / "report" / "roc_pr.png", IMAGES)


if __name__ == "__main__":
    write()

"""``mg init``: the example data and a config that trains on it, written into a folder.

Fast (no torch): the example files are copied from the installed mg-tasks package, found
without importing it, and the config comes from this package's ``quickstart.yaml``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from importlib.resources import files
from importlib.util import find_spec
from pathlib import Path

CONFIG = "quickstart.yaml"
DATA = "data"

DESCRIPTION = """\
Write the example datasets (into FOLDER/data/) and quickstart.yaml, a config that fine-tunes
a tiny DNA model on them, into FOLDER. Then, in FOLDER:

  mg fit --config quickstart.yaml
  mg test --config quickstart.yaml --ckpt_path best
"""


def examples_folder() -> Path:
    """The folder of mg-tasks' shipped example files, found without importing mg.tasks.

    Raises:
        FileNotFoundError: mg-tasks is not installed, or ships no examples.
    """
    spec = find_spec("mg.tasks")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        folder = Path(location) / "examples"
        if (folder / "promoters_train.csv").is_file():
            return folder
    raise FileNotFoundError(
        "the example data of mg-tasks was not found: install it with `pip install mg-tasks`."
    )


def _example_files() -> list[Path]:
    folder = examples_folder()
    kinds = (".csv", ".tsv", ".jsonl", ".fasta")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in kinds)


def write_starter(folder: Path, force: bool = False) -> list[Path]:
    """Write the example data and ``quickstart.yaml`` into ``folder``.

    Args:
        folder (Path): where to write; created if needed.
        force (bool): replace files that are already there.

    Returns:
        list[Path]: the files written.

    Raises:
        FileExistsError: a file to write exists and ``force`` is false; nothing was written.
    """
    sources = _example_files()
    targets = [folder / DATA / source.name for source in sources] + [folder / CONFIG]
    if not force:
        existing = [t for t in targets if t.exists()]
        if existing:
            raise FileExistsError(
                f"{existing[0]} exists ({len(existing)} of the {len(targets)} files mg init "
                "writes are there): choose an empty folder, or pass --force to replace them."
            )
    (folder / DATA).mkdir(parents=True, exist_ok=True)
    for source, target in zip(sources, targets, strict=False):
        shutil.copyfile(source, target)
    (folder / CONFIG).write_text(
        (files("mg.cli.starter") / CONFIG).read_text(encoding="utf-8"), encoding="utf-8"
    )
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mg init [FOLDER] [--force]``.

    Returns:
        int: 0, or 1 when files would be overwritten.
    """
    parser = argparse.ArgumentParser(
        prog="mg init",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "folder",
        nargs="?",
        default=".",
        help="where to write (created if needed; default: the current folder)",
    )
    parser.add_argument("--force", action="store_true", help="replace files already there")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    folder = Path(args.folder)
    try:
        written = write_starter(folder, force=args.force)
    except (FileExistsError, FileNotFoundError) as error:
        print(f"mg: error: {error}", file=sys.stderr)
        return 1
    inside = "" if folder.resolve() == Path.cwd().resolve() else f"cd {folder} && "
    print(
        f"Wrote {len(written) - 1} example files to {folder / DATA} and {folder / CONFIG}.\n"
        f"Train a model on them:  {inside}mg fit --config {CONFIG}"
    )
    return 0

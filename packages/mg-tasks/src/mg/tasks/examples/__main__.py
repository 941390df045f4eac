"""Regenerate the example files: ``python -m mg.tasks.examples FOLDER``.

``mg init`` copies the shipped files instead, faster (no torch import) and with a config.
"""

import argparse

from mg.tasks.data.examples import write_examples

parser = argparse.ArgumentParser(
    prog="python -m mg.tasks.examples",
    description="Write every example dataset, regenerated from its seeded generator, into "
    "FOLDER. `mg init` copies the same files, with a config that trains on them.",
)
parser.add_argument("folder", help="where to write (created if needed)")
for path in write_examples(parser.parse_args().folder):
    print(path)

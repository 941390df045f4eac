"""Regenerate the example files: ``python -m mg.tasks.examples FOLDER``."""

from mg.tasks.data.examples import main

raise SystemExit(main())

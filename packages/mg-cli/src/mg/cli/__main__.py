"""``python -m mg.cli`` runs the ``mg`` command."""

import sys

from mg.cli.main import main

sys.exit(main())

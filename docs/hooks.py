"""mkdocs hooks: generate pages that come from the code before the build reads them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any


def on_pre_build(config: Any, **kwargs: Any) -> None:
    """Regenerate the compatibility matrix page (written only when it changed).

    Writing only on change keeps `mkdocs serve` from rebuilding in a loop.
    """
    script = Path(config["docs_dir"]) / "gen_matrix.py"
    spec = importlib.util.spec_from_file_location("mg_docs_gen_matrix", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write()

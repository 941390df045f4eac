import sys
from pathlib import Path

# Test helpers live beside the tests; importlib import mode does not put this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))

import pytest
from backbone_toys import TinyFolders


@pytest.fixture(scope="session")
def tiny_folders(tmp_path_factory: pytest.TempPathFactory) -> TinyFolders:
    """Tiny models saved once per session, loaded through model_path like real weights."""
    return TinyFolders(tmp_path_factory.mktemp("tiny_models"))

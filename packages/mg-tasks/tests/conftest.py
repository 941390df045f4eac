import sys
from pathlib import Path

# Test helpers live beside the tests; importlib import mode does not put this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))

import torch

# The test models are tiny: one thread is faster than several fighting over shared cores.
torch.set_num_threads(1)

import pytest  # noqa: E402


@pytest.fixture(params=["memory", "disk"])
def storage(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with SequenceData's automatic storage choosing memory, then disk.

    Disk is chosen by lowering the size threshold of ``storage="auto"`` to nothing, so every
    whole-file split goes through the disk store (carved splits stay in memory, as in use),
    read two rows at a time so that every file spans several chunks.
    """
    from mg.tasks.data import builder, source

    threshold = -1 if request.param == "disk" else 10**18
    monkeypatch.setattr(builder, "DISK_THRESHOLD_BYTES", threshold)
    monkeypatch.setattr(source, "CHUNK_ROWS", 2)  # tiny chunks: rows cross chunk edges
    return str(request.param)

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

# Test helpers live beside the tests; importlib import mode does not put this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "jsonargparse: needs only jsonargparse besides mg-adapters (the test dependency group)",
    )


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Run these tests' tiny tensors on one thread.

    Intra-op threads buy nothing at these sizes, and on a shared, busy CPU they spin
    against each other (ten times slower here). Scoped to this folder's tests.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

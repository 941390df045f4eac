import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: runs on CUDA (the matrix_gpu nox session)")


@pytest.fixture(autouse=True)
def one_thread() -> None:
    # Tiny models run fastest on one thread, and CI has two cores.
    torch.set_num_threads(1)

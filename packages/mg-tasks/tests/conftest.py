import sys
from pathlib import Path

# Test helpers live beside the tests; importlib import mode does not put this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))

import torch

# The test models are tiny: one thread is faster than several fighting over shared cores.
torch.set_num_threads(1)

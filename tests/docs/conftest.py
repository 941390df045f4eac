import sys
from pathlib import Path

# Helper modules beside these tests; importlib import mode does not put this folder on the path.
sys.path.insert(0, str(Path(__file__).parent))

import sys
from pathlib import Path

# Let the tests import data.py from the example's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

"""A research assistant that answers questions about a document collection with verified quotations."""

import os

# torch's OpenMP threads sleep rather than spin while they wait for each other. On a 2-core laptop with one core busy
# elsewhere, spinning threads made a read-mode answer 3.6x slower than on a quiet machine (5.1 s against 1.4 s), sleeping
# ones 1.5x (2.1 s). Set before torch loads, since its OpenMP runtime reads it then; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

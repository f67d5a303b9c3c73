"""Per-item seeds: every random choice in laimark derives from a run seed and stable keys."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Every stage's default run seed: the original LAIMARK's (its README passes --seed 42 to each).
DEFAULT_SEED = 42


def item_seed(base_seed: int, *keys: Any) -> int:
    """A 63-bit seed derived from a base seed and stable keys (problem id, sample index, ...).

    Uses SHA-256 of a JSON encoding, never `hash()`, so it is the same in every process.

    >>> item_seed(0, "HumanEval/0", 3) == item_seed(0, "HumanEval/0", 3)
    True
    """
    payload = json.dumps([base_seed, *keys], default=str, separators=(",", ":")).encode()
    return int.from_bytes(hashlib.sha256(payload).digest()[:8], "big") >> 1

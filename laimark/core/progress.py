"""A progress bar that shows it is alive between updates.

On two CPU cores one round of generation (8 replies) or one problem's calibration takes minutes;
a bar that only moves when a problem is accepted looks dead. `Heartbeat` re-draws the bar's
status line every few seconds from a callback (attempts, rejections by reason, tokens/s), so a
person sees the work move even when the count does not.

    with tqdm(total=n) as bar, Heartbeat(bar, lambda: {"attempts": run.attempts}):
        ...
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

HEARTBEAT_SECONDS = 10.0


class Heartbeat:
    """Refresh `bar`'s postfix from `status()` every `every` seconds, in a daemon thread."""

    def __init__(self, bar, status: Callable[[], dict], every: float = HEARTBEAT_SECONDS):
        self.bar, self.status, self.every = bar, status, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)

    def beat(self) -> None:
        try:
            self.bar.set_postfix(self.status(), refresh=True)
        except Exception:  # noqa: BLE001 - a status line must never break the run
            pass

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.beat()

    def __enter__(self) -> Heartbeat:
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 1)
        self.beat()


class Throughput:
    """Tokens per second of a sampler since this object was made (its live count if it has one)."""

    def __init__(self, sampler):
        self.sampler, self.start = sampler, time.monotonic()
        self.tokens0 = self.tokens()

    def tokens(self) -> int | None:
        live = getattr(self.sampler, "live_tokens", None)
        return live if live is not None else getattr(self.sampler, "tokens_generated", None)

    def rate(self) -> str:
        now = self.tokens()
        elapsed = time.monotonic() - self.start
        if now is None or elapsed <= 0:
            return "?"
        return f"{(now - self.tokens0) / elapsed:.1f}"

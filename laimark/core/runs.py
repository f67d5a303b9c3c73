"""The one run mechanism: every stage opens its output through `Run`.

A `Run` decides three things the same way for every stage:

* **May it write here?** An output (or one of its side files: journal, measurements, checkpoints)
  that exists and is not empty is never touched without `--resume`.
* **May it resume?** Only under the same config: the sidecar written when the run started holds
  the whole config, and a resumed run must match it in every field except those the stage lists as
  free to change (worker counts, timeouts, how many problems to reach, ...). A field the sidecar
  lacks (one a later laimark added) counts as its default. One error message lists each field
  that differs, old value -> new value.
* **What does the sidecar say?** `<output>.meta.json`, one schema everywhere (docs/records.md):
  schema, command, status, config and its key, seed, model identity, inputs with hashes, sandbox,
  solve format, versions, started/finished, sessions, wall and work seconds summed over sessions,
  counts, then the stage's own details.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from laimark import __version__
from laimark.core.config import defaults_of, to_dict
from laimark.core.records import file_sha256, write_json_atomic

log = logging.getLogger(__name__)

SCHEMA = "laimark.run/1"
# Always free to change on resume: how verbosely and how parallel a run goes, and the sandbox's
# limits (a longer timeout may turn a `timeout` verdict into a pass: the sidecar records the
# limits of the last session).
# Where the output lives is free too: a run copied or moved elsewhere may be continued there.
ALWAYS_FREE = frozenset(
    {"resume", "verbose", "sandbox", "workers", "timeout", "memory_mb", "output", "output_dir"}
)
_VERSIONED = (
    "torch",
    "transformers",
    "trl",
    "peft",
    "datasets",
    "accelerate",
    "vllm",
    "openvino-genai",
)


class RunError(ValueError):
    """The output cannot be written or resumed with these settings; a usage error."""


def config_key(config: dict, free: Iterable[str] = ()) -> str:
    """Short hash of the settings that decide what a run makes."""
    kept = decisive(config, free)
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


def decisive(config: dict, free: Iterable[str] = ()) -> dict:
    """The config as one level (`model.dtype`), without the settings free to change on resume.

    A free name is a top-level field (`resume`, `sandbox`: the whole sandbox config) or a dotted
    path into a sub-config (`model.device`).
    """
    free = set(free) | ALWAYS_FREE
    return {
        k: v
        for k, v in _flat(config).items()
        if not any(k == f or k.startswith(f + ".") for f in free)
    }


def _flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def nonempty(path: Path) -> bool:
    """A file with bytes in it, or a folder with anything in it."""
    if path.is_dir():
        return any(path.iterdir())
    return path.is_file() and path.stat().st_size > 0


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"laimark": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


class Run:
    """One invocation of a stage, writing `output` and its sidecar `<output>.meta.json`.

    Args:
        command: the command's name (`laimark-calibrate`).
        output: the main output file (its sidecar sits beside it).
        config: the stage's typed config, recorded whole.
        resume: whether the user passed `--resume`.
        side: other files or folders of this run (journal, measurements, checkpoints); any of them
            present means a run is there.
        free: config fields that may differ on resume (beyond `ALWAYS_FREE`).
        overwrite: outputs derived from others (reports) may be replaced without `--resume`.

    Raises:
        RunError: the output exists without `--resume`, or `--resume` with other settings.
    """

    def __init__(
        self,
        command: str,
        output: str | os.PathLike,
        config: Any,
        *,
        resume: bool = False,
        side: Iterable[str | os.PathLike] = (),
        free: Iterable[str] = (),
        overwrite: bool = False,
    ):
        self.command, self.output = command, Path(output)
        self.meta_path = Path(f"{output}.meta.json")
        self.config, self._config_cls = to_dict(config), type(config)
        self.free = set(free)
        self.key = config_key(self.config, self.free)
        self._began = time.perf_counter()
        self.previous = self._read_previous() if resume else None
        present = [p for p in (self.output, *map(Path, side)) if nonempty(p)]
        self.resumed = bool(present) and resume
        if present and not resume and not overwrite:
            raise RunError(
                f"{present[0]} already exists; pass --resume to continue that run or choose "
                "another output"
            )
        if self.resumed:
            self._check_same_config(present[0])
        # A resumed run keeps what earlier sessions recorded (model, sandbox, the stage's own
        # details) until this session records its own.
        self.meta: dict = dict(self.previous) if self.resumed and self.previous else {}
        self.meta |= {
            "schema": SCHEMA,
            "command": command,
            "status": "running",
            "config": self.config,
            "config_key": self.key,
            "seed": self.config.get("seed"),
            "model": self.meta.get("model"),
            "engines": self.meta.get("engines", []),
            "inputs": [],
            "sandbox": self.meta.get("sandbox"),
            "solve_format": self.meta.get("solve_format"),
            "versions": _versions(),
            "argv": list(sys.argv),
            "platform": platform.platform(),
            "started": self._earlier("started") or _now(),
            "finished": None,
            "sessions": (self._earlier("sessions") or 0) + 1,
            # Timings depend on the CPU, which changes between sessions of a resumed run.
            "cpus": sorted(set(self._earlier("cpus") or []) | {cpu_model()}),
            "wall_seconds": None,
            "work_seconds": None,
            "counts": self.meta.get("counts", {}),
        }

    # ------------------------------------------------------------ resume
    def _read_previous(self) -> dict | None:
        try:
            return json.loads(self.meta_path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise RunError(f"{self.meta_path}: cannot read the sidecar ({e})") from None

    def _earlier(self, key: str) -> Any:
        if not self.resumed or self.previous is None:
            return None
        return self.previous.get(key)

    def _check_same_config(self, found: Path) -> None:
        before = (self.previous or {}).get("config")
        if not isinstance(before, dict):
            raise RunError(
                f"{found} has no sidecar {self.meta_path.name} with its settings: cannot check it "
                "was made with these; choose another output"
            )
        old, new = decisive(before, self.free), decisive(self.config, self.free)
        # A field a later version added reads as its default in a sidecar written before it.
        defaults = _flat(defaults_of(self._config_cls))
        old = {k: old.get(k, defaults.get(k)) for k in old.keys() | new.keys()}
        changed = sorted(k for k in old if old[k] != new.get(k))
        if changed:
            raise RunError(
                f"--resume with other settings than {self.output} was made with: "
                + ", ".join(
                    f"--{k.rsplit('.', 1)[-1]} {old.get(k)!r} -> {new.get(k)!r}" for k in changed
                )
            )

    def check_model(self, identity: dict, same_engine: bool = False) -> None:
        """Record the model; on resume, refuse one whose weights or adapters changed since.

        The config names the model; this compares what the name resolved to (file hashes),
        so a folder retrained in place or a moved Hugging Face revision is caught too.
        `same_engine`: refuse another backend or engine version too (evaluation, whose samples
        are the measurement; `--backend auto` can resolve differently on another machine).
        """
        identity = dict(identity)
        before = self._earlier("model")
        if before:
            now = _weights(identity)
            if _weights(before) != now:
                raise RunError(
                    f"--resume with another model than {self.output} was made with: "
                    f"{_weights(before)} -> {now}"
                )
            engine, earlier = identity.get("backend"), before.get("backend")
            if same_engine and earlier and engine != earlier:
                raise RunError(
                    f"--resume of {self.output} on {engine}, but it was sampled with {earlier}: "
                    f"its answers would mix two engines. Pass the --backend it used, or start "
                    "a new --output"
                )
        self.meta["model"] = identity
        # The engine may change between sessions where the stage allows it (ENGINE_FREE).
        engine = identity.get("backend") or "unknown"
        self.meta["engines"] = sorted(set(self._earlier("engines") or []) | {engine})

    # ------------------------------------------------------------ recording
    def record(self, **fields: Any) -> None:
        """Set sidecar fields (model, sandbox, solve_format, counts, or the stage's own)."""
        self.meta.update(fields)

    def add_input(self, path: str | os.PathLike, sha256: str | None = None, **about: Any) -> None:
        """Record an input file with its hash: the one given (already computed by the caller), or
        computed here; None for something that is not a local file (`hub`)."""
        p = Path(path)
        if sha256 is None and p.is_file():
            sha256 = file_sha256(p)
        self.meta["inputs"].append({"path": str(path), "sha256": sha256, **about})

    def write(self, status: str = "running", work_seconds: float | None = None) -> Path:
        """Write the sidecar now.

        `wall_seconds` adds this session's time to the earlier sessions'. `work_seconds` is the
        stage's own total over all sessions where it keeps one (generation sums its journal's
        sampling and checking time), else the same sum as the wall time.
        """
        wall = round((self._earlier("wall_seconds") or 0.0) + self.session_seconds(), 2)
        self.meta.update(
            status=status,
            finished=_now() if status != "running" else None,
            wall_seconds=wall,
            work_seconds=wall if work_seconds is None else round(work_seconds, 2),
        )
        write_json_atomic(self.meta_path, self.meta)
        return self.meta_path

    def finish(self, work_seconds: float | None = None, status: str = "complete") -> Path:
        return self.write(status, work_seconds)

    def session_seconds(self) -> float:
        return time.perf_counter() - self._began


def _weights(identity: dict) -> dict:
    adapters = [a.get("sha256") for a in identity.get("adapters") or []]
    return {
        "sha256": identity.get("sha256"),
        "revision": identity.get("revision"),
        "adapters": adapters,
    }


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), for every timing this machine records."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown"
    names = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

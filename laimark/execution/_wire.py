"""The sandbox's wire format: frames, the value codec, and the closed set of verdict reasons.

Standard library only. This file runs in two places: inside the sandbox, where its source is put
in front of `_worker.py` (the worker imports nothing from the host), and on the host,
which validates what comes back with the same definitions.

* A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON. JSON, not marshal or
  pickle: its decoder builds nothing but dicts, lists, strings, numbers, booleans and None, and is
  made for hostile input (marshal can build code objects and is documented as unsafe on it).
* Values that cross between the judge and the candidate are encoded as a JSON tree in which every
  container is a tagged list (`["l", [...]]` is a list, `["t", [...]]` a tuple, `["r", 0, 3, 1]` a
  range...), so that the judge rebuilds each value with its own type: a `range` stays a `range`, a
  generator arrives as an iterator, not as a list. The decoder accepts only these shapes and builds
  only standard types, so nothing the candidate defined (a class with `__eq__` always true, a
  subclass of `int`) can reach the tests.
"""

import json
import os
import struct

MAX_FRAME = 64 << 20
MAX_DEPTH = 200
MAX_ITEMS = 1 << 20  # an iterator longer than this is not data
MAX_DETAIL = 500
CAPTURE_NAME = "__laimark_value__"  # where a labelling job's test leaves its result
MAX_IDENTIFIER = 64
BIG_INT = 1 << 63  # larger ints travel as hex: JSON's decimal digits are capped at 4300

# Every verdict reason is one of these, or "exception:<Identifier>".
REASONS = frozenset(
    {
        "passed",
        "syntax_error",
        "assertion",
        "timeout",
        "memory",
        "recursion",
        "exited",
        "killed",
        "file_too_large",
        "setup_error",
        "test_syntax_error",
        "no_tests",
        "sandbox_error",
        "protocol_error",
    }
)


class WireError(ValueError):
    """Bytes or a value that do not have the expected shape."""


# ---------------------------------------------------------------- reasons and bounded text
def identifier(name):
    """A name chosen by untrusted code, as a bounded identifier ("Invalid" if it is not one)."""
    if type(name) is not str or not name.isidentifier():
        return "Invalid"
    return name[:MAX_IDENTIFIER]


def exception_reason(name):
    return "exception:" + identifier(name)


def is_reason(reason):
    if type(reason) is not str:
        return False
    if reason.startswith("exception:"):
        name = reason[len("exception:") :]
        return name.isidentifier() and len(name) <= MAX_IDENTIFIER
    return reason in REASONS


def is_failure(reason):
    return reason != "passed" and is_reason(reason)


def bounded(text, limit=MAX_DETAIL):
    """`text` as a str of at most `limit` characters (anything else becomes its type's name)."""
    if type(text) is not str:
        return f"<{type(text).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- frames
def pack(obj):
    payload = json.dumps(obj, separators=(",", ":")).encode("utf-8", "surrogatepass")
    return struct.pack(">I", len(payload)) + payload


def unpack(payload):
    """One frame's payload -> object; WireError for anything that is not JSON."""
    try:
        return json.loads(payload.decode("utf-8", "surrogatepass"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise WireError(f"malformed frame: {type(e).__name__}") from None


def read_exact(fd, n):
    chunks = []
    while n:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            raise EOFError
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def read_frame(fd, limit=MAX_FRAME):
    (n,) = struct.unpack(">I", read_exact(fd, 4))
    if n > limit:
        raise WireError(f"frame of {n} bytes, over the {limit}-byte limit")
    return unpack(read_exact(fd, n))


def write_frame(fd, obj):
    data = pack(obj)
    while data:
        data = data[os.write(fd, data) :]


def split_frames(data, limit=MAX_FRAME):
    """Decode consecutive frames; a torn last frame (the writer was killed) is dropped."""
    out, i = [], 0
    while i + 4 <= len(data):
        (n,) = struct.unpack(">I", data[i : i + 4])
        if n > limit:
            raise WireError(f"frame of {n} bytes, over the {limit}-byte limit")
        if i + 4 + n > len(data):
            break
        out.append(unpack(data[i + 4 : i + 4 + n]))
        i += 4 + n
    return out


# ---------------------------------------------------------------- values: encode
_DICT_KEYS, _DICT_VALUES, _DICT_ITEMS = type({}.keys()), type({}.values()), type({}.items())
_SEQUENCES = {tuple: "t", list: "l", set: "s", frozenset: "f"}


def encode(x, depth=0):
    """`x` as a tagged JSON tree, read with the built-in types' own methods (never a subclass's)."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    t = type(x)
    if t is str or t is bool or x is None or t is float:
        return x
    if t is int:
        return x if -BIG_INT < x < BIG_INT else ["n", hex(x)]
    d = depth + 1
    tag = _SEQUENCES.get(t)
    if tag:
        return [tag, [encode(e, d) for e in x]]
    if t is dict:
        return ["d", [[encode(k, d), encode(v, d)] for k, v in x.items()]]
    return _encode_other(x, t, d)


def _encode_other(x, t, d):
    """Subclasses of the built-in types, other standard types, and iterators."""
    if t is range:
        return ["r", x.start, x.stop, x.step]
    if isinstance(x, bool):
        return bool.__bool__(x)
    if isinstance(x, int):
        return encode(int.__int__(x), d)
    if isinstance(x, float):
        return float.__float__(x)
    if isinstance(x, str):
        return str.__str__(x)
    if isinstance(x, (bytes, bytearray)):
        return ["b" if isinstance(x, bytes) else "ba", bytes(x).decode("latin-1")]
    if isinstance(x, complex):
        return ["j", float.__float__(x.real), float.__float__(x.imag)]
    if x is Ellipsis:
        return ["e"]
    if t in (_DICT_KEYS, _DICT_VALUES):
        return ["k" if t is _DICT_KEYS else "v", [encode(e, d) for e in x]]
    if t is _DICT_ITEMS:
        return ["di", [[encode(k, d), encode(v, d)] for k, v in x]]
    std = _encode_standard(x, t, d)
    if std is not None:
        return std
    if isinstance(x, tuple):  # namedtuple and friends compare as tuples
        return ["t", [encode(e, d) for e in tuple.__iter__(x)]]
    if isinstance(x, list):
        return ["l", [encode(e, d) for e in list.__iter__(x)]]
    if isinstance(x, dict):
        return ["d", [[encode(k, d), encode(v, d)] for k, v in dict.items(x)]]
    if isinstance(x, frozenset):
        return ["f", [encode(e, d) for e in frozenset.__iter__(x)]]
    if isinstance(x, set):
        return ["s", [encode(e, d) for e in set.__iter__(x)]]
    if hasattr(t, "__next__") and hasattr(t, "__iter__"):
        return ["i", [encode(e, d) for e in _bounded_items(x)]]
    raise TypeError(f"a {identifier(t.__name__)} cannot cross the sandbox boundary")


def _encode_standard(x, t, d):
    """collections' containers, Decimal and Fraction, rebuilt as themselves on the other side."""
    module, name = getattr(t, "__module__", ""), getattr(t, "__name__", "")
    if module == "collections":
        if name == "deque":
            return ["q", [encode(e, d) for e in x], x.maxlen]
        if name in ("OrderedDict", "Counter"):
            return ["od" if name == "OrderedDict" else "c", encode(dict(x), d)[1]]
        if name == "defaultdict":
            factory = getattr(x.default_factory, "__name__", None)
            return ["dd", encode(dict(x), d)[1], factory if factory in _FACTORIES else None]
    if module == "decimal" and name == "Decimal":
        return ["dec", str(x)]
    if module == "fractions" and name == "Fraction":
        return ["fr", encode(x.numerator, d), encode(x.denominator, d)]
    return None


def _bounded_items(iterator):
    items = []
    for item in iterator:
        items.append(item)
        if len(items) > MAX_ITEMS:
            raise ValueError(f"an iterator of more than {MAX_ITEMS} items is not data")
    return items


# ---------------------------------------------------------------- values: decode
_FACTORIES = {"list": list, "int": int, "set": set, "dict": dict, "str": str, "float": float}


def decode(x, depth=0):
    """Rebuild a value from `encode`'s tree with standard types only; WireError otherwise."""
    t = type(x)
    if t is str or t is bool or t is int or t is float or x is None:
        return x
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if t is not list or not x or type(x[0]) is not str:
        raise WireError("malformed value")
    build = _DECODERS.get(x[0])
    if build is None:
        raise WireError("unknown value tag")
    try:
        return build(x, depth + 1)
    except WireError:
        raise
    except (TypeError, ValueError, OverflowError, ArithmeticError) as e:
        raise WireError(f"malformed value: {type(e).__name__}") from None


def _items(x, d, n=2):
    if len(x) != n or type(x[1]) is not list:
        raise WireError("malformed container")
    return [decode(e, d) for e in x[1]]


def _pairs(x, d, n=2):
    if len(x) != n or type(x[1]) is not list:
        raise WireError("malformed mapping")
    out = []
    for pair in x[1]:
        if type(pair) is not list or len(pair) != 2:
            raise WireError("malformed mapping")
        out.append((decode(pair[0], d), decode(pair[1], d)))
    return out


def _scalar(x, n, *types):
    if len(x) != n or any(type(v) not in types for v in x[1:]):
        raise WireError("malformed scalar")
    return x[1:]


def _deque(x, d):
    import collections

    if len(x) != 3 or not (x[2] is None or type(x[2]) is int):
        raise WireError("malformed deque")
    return collections.deque(_items(x[:2], d), x[2])


def _defaultdict(x, d):
    import collections

    if len(x) != 3 or not (x[2] is None or x[2] in _FACTORIES):
        raise WireError("malformed defaultdict")
    return collections.defaultdict(_FACTORIES.get(x[2]), _pairs(x[:2], d))


def _counter(x, d):
    import collections

    return collections.Counter(dict(_pairs(x, d)))


def _ordered(x, d):
    import collections

    return collections.OrderedDict(_pairs(x, d))


def _decimal(x, d):
    import decimal

    return decimal.Decimal(*_scalar(x, 2, str))


def _fraction(x, d):
    import fractions

    num, den = (decode(v, d) for v in _scalar(x, 3, int, list))
    if type(num) is not int or type(den) is not int:
        raise WireError("malformed fraction")
    return fractions.Fraction(num, den)


_DECODERS = {
    "t": lambda x, d: tuple(_items(x, d)),
    "l": _items,
    "s": lambda x, d: set(_items(x, d)),
    "f": lambda x, d: frozenset(_items(x, d)),
    "d": lambda x, d: dict(_pairs(x, d)),
    "n": lambda x, d: int(*_scalar(x, 2, str), 16),
    "r": lambda x, d: range(*_scalar(x, 4, int)),
    "b": lambda x, d: _scalar(x, 2, str)[0].encode("latin-1"),
    "ba": lambda x, d: bytearray(_scalar(x, 2, str)[0].encode("latin-1")),
    "j": lambda x, d: complex(*_scalar(x, 3, float, int)),
    "e": lambda x, d: ... if len(x) == 1 else _scalar(x, 1),
    "k": lambda x, d: dict.fromkeys(_items(x, d)).keys(),
    "v": lambda x, d: dict(enumerate(_items(x, d))).values(),
    "di": lambda x, d: dict(_pairs(x, d)).items(),
    "i": lambda x, d: iter(_items(x, d)),
    "q": _deque,
    "od": _ordered,
    "c": _counter,
    "dd": _defaultdict,
    "dec": _decimal,
    "fr": _fraction,
}


# ---------------------------------------------------------------- the host's check of a result
def result_problem(raw, n_tests):
    """What is wrong with a worker's raw result for a job of `n_tests` tests, or None.

    The host judges nothing that fails this: a malformed result becomes a `protocol_error`
    verdict for its run, never an exception in the stage that asked."""
    if type(raw) is not dict or type(raw.get("reports")) is not list:
        return "the result is not an object with a list of reports"
    if raw.get("protocol_error"):
        return "the worker received a malformed frame"
    if type(raw.get("output", "")) is not str:
        return "the captured output is not a string"
    if len(raw["reports"]) > n_tests + 2:
        return "more reports than tests"
    seen = set()
    for report in raw["reports"]:
        problem = _report_problem(report, n_tests, seen)
        if problem:
            return problem
    return None


def _report_problem(report, n_tests, seen):
    if type(report) is not dict:
        return "a report is not an object"
    if report == {"done": True}:
        return None
    detail = report.get("detail", "")
    if type(detail) is not str or len(detail) > 4 * MAX_DETAIL:
        return "a report's detail is not a bounded string"
    keys = set(report) - {"detail"}
    if keys in ({"load_error"}, {"setup_error"}):
        return None if is_failure(report[keys.pop()]) else "a report's reason is not a failure"
    i = report.get("i")
    if (
        not keys <= {"i", "ok", "reason", "value"}
        or ("value" in keys and report.get("ok") is not True)
        or type(i) is not int
        or type(report.get("ok")) is not bool
    ):
        return "a report has an unknown shape"
    if not 0 <= i < n_tests or i in seen:
        return "a report's test index is out of range or repeated"
    seen.add(i)
    if not report["ok"] and not is_failure(report.get("reason")):
        return "a report's reason is not a failure"
    return None

"""The sandbox's wire format on its own: the value codec, its refusals, and the host's check of a
worker's result (a malformed one is a protocol_error verdict, never an exception)."""

from __future__ import annotations

import collections
import json
from decimal import Decimal
from fractions import Fraction

import pytest

from laimark.execution._wire import (
    WireError,
    decode,
    encode,
    is_reason,
    pack,
    result_problem,
    split_frames,
)
from laimark.execution.harness import to_verdict


def through(value):
    """`value` as the judge rebuilds it: encoded, sent as JSON, decoded."""
    return decode(json.loads(json.dumps(encode(value))))


@pytest.mark.parametrize(
    "value",
    [
        0,
        -(10**40),
        1.5,
        float("inf"),
        "é\ud800",
        b"\x00\xff",
        bytearray(b"ab"),
        3 + 4j,
        None,
        True,
        (1, (2, [3])),
        {1: "a", (2, 3): [4]},
        {1, 2},
        frozenset({"x"}),
        range(1, 10, 3),
        collections.deque([1, 2], maxlen=5),
        collections.OrderedDict(a=1),
        collections.Counter("aab"),
        Decimal("1.10"),
        Fraction(3, 7),
        ...,
    ],
)
def test_values_come_back_equal_and_of_the_same_type(value):
    back = through(value)
    assert back == value and type(back) is type(value)


def test_defaultdict_keeps_its_factory():
    back = through(collections.defaultdict(list, a=[1]))
    assert type(back) is collections.defaultdict and back["missing"] == []


def test_iterators_and_views_are_not_lists():
    gen = through(x * x for x in range(3))
    assert not isinstance(gen, list) and list(gen) == [0, 1, 4]
    keys, values = through({"a": 1}.keys()), through({"a": 1}.values())
    assert keys == {"a"} and not isinstance(keys, list) and list(values) == [1]
    assert through({"a": 1}.items()) == {("a", 1)}


def test_subclasses_arrive_as_their_builtin_base():
    class Liar(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    back = through([Liar(3), "s"])
    assert back == [3, "s"] and type(back[0]) is int and back[0] != 4


def test_objects_that_are_not_data_cannot_cross():
    with pytest.raises(TypeError, match="cannot cross"):
        encode(object())


@pytest.mark.parametrize(
    "tree",
    [
        ["zz", []],  # unknown tag
        [],  # empty
        [1, 2],  # tag not a string
        ["l", "not a list"],
        ["d", [[1]]],  # pair of one
        ["s", [["l", []]]],  # unhashable set member
        ["r", 1, "2", 1],  # range of a string
        ["n", "not hex"],
        {"a": 1},  # a JSON object is not a value
        ["t", [], "extra"],
    ],
)
def test_malformed_values_are_refused(tree):
    with pytest.raises(WireError):
        decode(tree)


def test_deep_nesting_is_refused():
    tree = 0
    for _ in range(300):
        tree = ["l", [tree]]
    with pytest.raises(WireError):
        decode(tree)


def test_frames_split_and_a_torn_last_frame_is_dropped():
    data = pack({"i": 0}) + pack({"done": True})
    assert split_frames(data + data[:5]) == [{"i": 0}, {"done": True}]
    with pytest.raises(WireError):
        split_frames(b"\x00\x00\x00\x03abc")


@pytest.mark.parametrize(
    "reason, ok",
    [
        ("assertion", True),
        ("exception:ValueError", True),
        ("exception:" + "E" * 65, False),
        ("exception:not an identifier", False),
        ("exception:", False),
        ("anything else", False),
        (3, False),
    ],
)
def test_reasons_form_a_closed_set(reason, ok):
    assert is_reason(reason) is ok


JOB = {"tests": ["assert f() == 1", "assert f() == 2"]}


@pytest.mark.parametrize(
    "raw",
    [
        {"reports": [{"load_error": "passed", "detail": ""}, {"done": True}]},
        {"reports": [{"i": 7, "ok": True}, {"done": True}]},
        {"reports": [{"i": 0, "ok": True}, {"i": 0, "ok": True}, {"done": True}]},
        {"reports": [{"i": 0, "ok": False, "reason": "passed"}]},
        {"reports": [{"i": 0, "ok": False, "reason": "E" * 100}]},
        {"reports": [{"i": 0, "ok": False, "reason": "assertion", "detail": ["x"]}]},
        {"reports": [{"i": 0, "ok": False, "reason": "assertion", "detail": "x" * 10**6}]},
        {"reports": [{"i": "0", "ok": True}]},
        {"reports": [{"forged": True}]},
        {"reports": "all passed"},
        {"reports": [], "output": 5},
        {"reports": [], "protocol_error": True},
        ["not", "a", "dict"],
    ],
)
def test_a_malformed_result_is_a_protocol_error_verdict(raw):
    assert result_problem(raw, 2)
    verdict = to_verdict(JOB, raw)
    assert not verdict.passed and verdict.reason == "protocol_error"
    assert verdict.tests == ["protocol_error", "protocol_error"]


def test_all_passed_without_done_is_not_a_pass_and_does_not_raise():
    raw = {"reports": [{"i": 0, "ok": True}, {"i": 1, "ok": True}], "timed_out": True}
    verdict = to_verdict(JOB, raw)
    assert not verdict.passed and verdict.reason == "timeout"

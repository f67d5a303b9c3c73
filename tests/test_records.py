"""Tests for laimark.core.records: record validation, JSONL reading errors, atomic and resumable writes."""

import json
import logging
import pickle
from pathlib import Path

import pytest

from laimark.core.records import (
    CalibratedProblem,
    EvalResult,
    EvalSample,
    FieldError,
    JsonlAppender,
    Problem,
    RecordError,
    file_sha256,
    iter_jsonl,
    load_records,
    write_jsonl_atomic,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples"
GOOD = {"prompt": "def f(x):\n", "tests": "assert f(1) == 1", "entry_point": "f"}


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# ---------------------------------------------------------------- reading errors


def test_invalid_json_names_path_and_line(tmp_path):
    path = write_lines(tmp_path / "c.jsonl", json.dumps(GOOD), '{"prompt": ')
    with pytest.raises(RecordError) as e:
        list(iter_jsonl(path))
    assert str(e.value).startswith(f"{path}:2: invalid JSON: ")
    assert (e.value.line, e.value.field) == (2, None)


def test_non_object_line_is_rejected(tmp_path):
    path = write_lines(tmp_path / "c.jsonl", "[1, 2]")
    with pytest.raises(RecordError, match=r":1: expected a JSON object, got list"):
        list(iter_jsonl(path))


def test_non_utf8_bytes_are_rejected(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b'\n{"prompt": "\xff"}\n')
    with pytest.raises(RecordError, match=r"c\.jsonl:2: not valid UTF-8"):
        list(iter_jsonl(path))


def test_missing_file_is_line_zero(tmp_path):
    with pytest.raises(RecordError) as e:
        list(iter_jsonl(tmp_path / "nope.jsonl"))
    assert e.value.line == 0
    assert str(e.value) == f"{tmp_path / 'nope.jsonl'}:0: file not found"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tests", {"a": 1}, "field 'tests' must be a string, got dict"),
        ("tests", ["assert 1", 2], "field 'tests' must be a string or a list of strings"),
        ("prompt", None, "field 'prompt' must be a string, got null"),
        ("entry_point", "not valid", "field 'entry_point' must be a Python identifier"),
        ("entry_point", "class", "field 'entry_point' must be a Python identifier"),
        ("seed_id", 1.5, "field 'seed_id' must be a string, an integer or null, got float"),
    ],
)
def test_wrong_field_type_names_path_line_and_field(tmp_path, field, value, message):
    path = write_lines(tmp_path / "c.jsonl", json.dumps(GOOD), json.dumps({**GOOD, field: value}))
    with pytest.raises(RecordError) as e:
        load_records(path, Problem)
    assert (e.value.line, e.value.field) == (2, field)
    assert str(e.value).startswith(f"{path}:2: {message}")


def test_missing_required_field_is_named(tmp_path):
    path = write_lines(tmp_path / "c.jsonl", json.dumps({"prompt": "p", "tests": "t"}))
    with pytest.raises(RecordError) as e:
        load_records(path, Problem)
    assert str(e.value) == f"{path}:1: field 'entry_point' is required but missing"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pass_rate", 1.5),
        ("pass_rate", True),
        ("pass_rate", "0.5"),
        ("samples", -1),
        ("samples", 8.0),
    ],
)
def test_calibrated_numbers_are_validated(field, value):
    with pytest.raises(FieldError) as e:
        CalibratedProblem.from_dict({**GOOD, field: value})
    assert e.value.field == field


def test_n_passed_cannot_exceed_samples():
    with pytest.raises(FieldError, match="n_passed"):
        CalibratedProblem.from_dict({**GOOD, "samples": 4, "n_passed": 5})


def test_eval_result_passed_must_be_bool():
    with pytest.raises(FieldError, match="field 'passed' must be true or false, got int"):
        EvalResult.from_dict({"task_id": "t", "completion": "", "passed": 1, "result": "passed"})


def test_record_error_pickles():
    err = pickle.loads(pickle.dumps(RecordError("a.jsonl", 3, "tests", "field 'tests' bad")))
    assert (str(err), err.field) == ("a.jsonl:3: field 'tests' bad", "tests")


# ---------------------------------------------------------------- tolerance and round trips


def test_bom_crlf_and_blank_lines_are_tolerated(tmp_path):
    path = tmp_path / "c.jsonl"
    line = json.dumps(GOOD).encode()
    path.write_bytes(b"\xef\xbb\xbf" + line + b"\r\n\r\n   \n" + line + b"\r\n")
    assert [n for n, _ in load_records(path, Problem)] == [1, 4]


def test_extra_fields_round_trip_after_known_fields():
    d = {"zeta": [1, {"x": None}], **GOOD, "extra": "kept", "topic": "t"}
    out = Problem.from_dict(d).to_dict()
    assert {k: out[k] for k in d} == d
    assert list(out)[-2:] == ["zeta", "extra"]


def test_list_of_asserts_is_joined():
    problem = Problem.from_dict({**GOOD, "tests": ["assert f(1) == 1", "assert f(2) == 2"]})
    assert problem.tests == "assert f(1) == 1\nassert f(2) == 2"


def test_seed_id_keeps_its_type():
    assert Problem.from_dict({**GOOD, "seed_id": 7}).to_dict()["seed_id"] == 7


def test_key_is_stable_and_ignores_metadata():
    a = Problem.from_dict(GOOD)
    b = Problem.from_dict({**GOOD, "topic": "other", "tests": [GOOD["tests"]]})
    assert a.key() == b.key() == Problem.from_dict(dict(GOOD)).key()
    assert len(a.key()) == 16
    assert a.key() != Problem.from_dict({**GOOD, "entry_point": "g"}).key()


def test_direct_construction_is_validated():
    with pytest.raises(FieldError, match="field 'tests'"):
        Problem(prompt="p", tests=3, entry_point="f")


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("candidates.jsonl", Problem),
        ("calibrated.jsonl", CalibratedProblem),
        ("eval_samples.jsonl", EvalSample),
        ("eval_results.jsonl", EvalResult),
    ],
)
def test_example_files_load(name, cls):
    records = load_records(EXAMPLES / name, cls)
    assert 2 <= len(records) <= 3
    assert all(not r.extra for _, r in records)


# ---------------------------------------------------------------- atomic writes


def test_atomic_write_round_trips_unicode(tmp_path):
    path = tmp_path / "sub" / "out.jsonl"
    count = write_jsonl_atomic(path, [Problem.from_dict({**GOOD, "topic": "ñ"}), {"a": 1}])
    assert count == 2
    assert "ñ" in path.read_text(encoding="utf-8")
    assert [obj for _, obj in iter_jsonl(path)][1] == {"a": 1}


def test_atomic_write_failure_keeps_old_file(tmp_path):
    path = write_lines(tmp_path / "out.jsonl", '{"old": true}')

    def items():
        yield {"new": 1}
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_jsonl_atomic(path, items())
    assert path.read_text() == '{"old": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_atomic_write_rejects_nan(tmp_path):
    with pytest.raises(ValueError):
        write_jsonl_atomic(tmp_path / "out.jsonl", [{"pass_rate": float("nan")}])
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- appending and resume


def test_appender_refuses_existing_file_without_resume(tmp_path):
    path = write_lines(tmp_path / "out.jsonl", '{"a": 1}')
    with pytest.raises(FileExistsError, match="--resume"):
        JsonlAppender(path, resume=False)
    assert path.read_text() == '{"a": 1}\n'


def test_appender_accepts_empty_file_without_resume(tmp_path):
    path = tmp_path / "out.jsonl"
    path.touch()
    with JsonlAppender(path, resume=False) as sink:
        sink.write({"a": 1})
    assert path.read_text() == '{"a": 1}\n'


def test_torn_last_line_is_repaired_on_resume(tmp_path, caplog):
    path = tmp_path / "out.jsonl"
    with JsonlAppender(path, resume=False) as sink:
        for i in range(3):
            sink.write({"i": i})
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"i": 3, "half')
    with (
        caplog.at_level(logging.WARNING, logger="laimark.core.records"),
        JsonlAppender(path, resume=True) as sink,
    ):
        assert sink.existing == [{"i": 0}, {"i": 1}, {"i": 2}]
        sink.write({"i": 3})
    assert "torn" in caplog.text
    assert [obj["i"] for _, obj in iter_jsonl(path)] == [0, 1, 2, 3]


def test_resume_keeps_complete_last_line_without_newline(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"i": 0}\n{"i": 1}', encoding="utf-8")
    with JsonlAppender(path, resume=True) as sink:
        sink.write({"i": 2})
    assert path.read_text() == '{"i": 0}\n{"i": 1}\n{"i": 2}\n'


def test_resume_refuses_damage_before_the_last_line(tmp_path):
    path = write_lines(tmp_path / "out.jsonl", '{"i": 0}', "{bad", '{"i": 2}')
    with pytest.raises(RecordError, match=r"out\.jsonl:2: invalid JSON"):
        JsonlAppender(path, resume=True)


def test_done_keys(tmp_path):
    path = tmp_path / "out.jsonl"
    write_jsonl_atomic(path, [Problem.from_dict(GOOD)])
    with JsonlAppender(path, resume=True) as sink:
        keys = sink.done_keys(lambda d: Problem.from_dict(d).key())
    assert keys == {Problem.from_dict(GOOD).key()}


# ---------------------------------------------------------------- provenance


def test_file_sha256(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert file_sha256(path) == expected

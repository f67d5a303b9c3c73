"""laimark-check: one property per test, on small files written here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from laimark.check import main
from laimark.core.cli import printable
from laimark.evaluation.humaneval import load_humaneval

GOOD = {
    "prompt": 'def clamp(x, lo, hi):\n    """Return x limited to the range [lo, hi]."""\n',
    "tests": "assert clamp(5, 0, 3) == 3\nassert clamp(-1, 0, 3) == 0\nassert clamp(2, 0, 3) == 2",
    "solution": "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n",
    "entry_point": "clamp",
}


def write(tmp_path, *records, name="c.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def codes(tmp_path, capsys, *records):
    path = write(tmp_path, *records)
    status = main([str(path), "--json", "--workers", "2"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    return status, [set(x["problems"]) for x in lines]


def test_clean_file_passes(tmp_path, capsys):
    assert codes(tmp_path, capsys, GOOD) == (0, [set()])


def test_wrong_reference_solution(tmp_path, capsys):
    bad = dict(GOOD, solution="def clamp(x, lo, hi):\n    return x\n")
    status, found = codes(tmp_path, capsys, bad)
    assert status == 1 and "solution_fails" in found[0]


def test_vacuous_tests(tmp_path, capsys):
    vacuous = dict(
        GOOD,
        tests="assert clamp(1, 0, 3) or True\nassert clamp(2, 0, 3) or True\n"
        "assert clamp(0, 0, 3) or True",
    )
    status, found = codes(tmp_path, capsys, vacuous)
    assert status == 1 and "vacuous" in found[0]


def test_too_few_asserts(tmp_path, capsys):
    status, found = codes(tmp_path, capsys, dict(GOOD, tests="assert clamp(5, 0, 3) == 3"))
    assert "few_tests" in found[0]


def test_assert_that_never_calls_the_function(tmp_path, capsys):
    status, found = codes(tmp_path, capsys, dict(GOOD, tests=GOOD["tests"] + "\nassert 1 == 1"))
    assert "test_without_call" in found[0]


def test_clock_dependent_problem(tmp_path, capsys):
    clocky = dict(
        GOOD,
        tests=GOOD["tests"] + "\nimport datetime\n"
        "assert clamp(datetime.date.today().year, 0, 3000) > 2000",
    )
    status, found = codes(tmp_path, capsys, clocky)
    assert "nondeterministic_api" in found[0]


def test_nondeterministic_tests_are_caught_by_running_twice(tmp_path, capsys):
    flaky = dict(
        GOOD,
        solution="import os\ndef clamp(x, lo, hi):\n"
        "    return max(lo, min(x, hi)) + (os.urandom(1)[0] % 2)\n",
    )
    status, found = codes(tmp_path, capsys, flaky)
    assert status == 1 and found[0] & {"nondeterministic", "nondeterministic_api", "solution_fails"}


def test_duplicates(tmp_path, capsys):
    twin = dict(
        GOOD,
        prompt=GOOD["prompt"].replace("clamp", "clip"),
        entry_point="clip",
        tests=GOOD["tests"].replace("clamp", "clip"),
        solution=GOOD["solution"].replace("clamp", "clip"),
    )
    status, found = codes(tmp_path, capsys, GOOD, twin)
    assert found[0] == set() and "duplicate" in found[1]


def test_humaneval_copy(tmp_path, capsys):
    he = load_humaneval()[2]  # truncate_number
    copied = dict(
        GOOD,
        prompt=he.prompt.replace(he.entry_point, "cut_decimals"),
        entry_point="cut_decimals",
    )
    status, found = codes(tmp_path, capsys, copied)
    assert "humaneval_overlap" in found[0]


def test_unreadable_file_exits_2_with_file_and_line(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json\n")
    assert main([str(path)]) == 2
    assert f"{path}:2:" in capsys.readouterr().err


def test_readable_report_names_line_and_problem(tmp_path, capsys):
    path = write(tmp_path, GOOD, dict(GOOD, entry_point="clamp", prompt=GOOD["prompt"] + " "))
    assert main([str(path), "--workers", "2"]) == 1
    assert f"{path}:2: clamp: duplicate" in capsys.readouterr().out


# A reference solution whose failure message would turn the user's terminal red.
COLOURED = dict(GOOD, solution="def clamp(x, lo, hi):\n    raise ValueError('\\x1b[31mred')\n")


def test_readable_report_escapes_control_characters_from_the_model(tmp_path, capsys):
    assert main([str(write(tmp_path, COLOURED)), "--workers", "2"]) == 1
    out = capsys.readouterr().out
    assert "\\x1b[31mred" in out and "\x1b" not in out


def test_json_report_keeps_the_exact_text(tmp_path, capsys):
    assert main([str(write(tmp_path, COLOURED)), "--json", "--workers", "2"]) == 1
    notes = json.loads(capsys.readouterr().out.splitlines()[0])["notes"]
    assert any("\x1b[31mred" in n for n in notes)


def test_printable_escapes_controls_but_keeps_newlines_tabs_and_letters():
    text = "é中\tok\n\x1b]0;title\x07\r\x00\x7f\x9b"
    assert printable(text) == "é中\tok\n\\x1b]0;title\\x07\\r\\x00\\x7f\\x9b"


def test_printable_escapes_bidirectional_overrides_and_its_doctest_holds():
    import doctest

    from laimark.core import cli

    assert printable("a\u202eb\u2066c") == "a\\u202eb\\u2066c"
    assert doctest.testmod(cli).failed == 0


def test_shipped_examples_pass(tmp_path, capsys):
    copy = tmp_path / "calibrated.jsonl"  # the decontamination report is written beside it
    copy.write_bytes(Path("data/examples/calibrated.jsonl").read_bytes())
    assert main([str(copy), "--workers", "2"]) == 0
    assert f"decontamination report: {copy}.decontam.json" in capsys.readouterr().out


@pytest.mark.parametrize("entry", ["laimark-check"])
def test_console_script_installed(entry):
    import shutil

    exe = shutil.which(entry) or str(__import__("pathlib").Path(sys.executable).with_name(entry))
    out = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert out.returncode == 0

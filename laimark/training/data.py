"""Training problems for `laimark-train`, each turned into a `records.Problem` so that one reward
judges them all: the calibrated curriculum, MBPP (its public JSONL format: `text`, `code`,
`test_list`, `task_id`, optional `test_setup_code`, from a local file or the hub) and, only when
asked for, HumanEval (which marks every output contaminated).
"""

from __future__ import annotations

import ast
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from laimark.core.config import check
from laimark.core.records import (
    ORIGINAL_ITEM_FIELDS,
    CalibratedProblem,
    FieldError,
    Problem,
    RecordError,
    file_sha256,
    iter_jsonl,
    load_records,
)
from laimark.core.solve import SolveFormat
from laimark.curriculum.decontam import humaneval_overlap
from laimark.evaluation.humaneval import load_humaneval
from laimark.tasks import mix_warning, require_judged, task_type, type_mix

log = logging.getLogger(__name__)


def load_curriculum(path: str, weighted: bool) -> list[tuple[str, Problem]]:
    """Calibrated problems as (origin "path:line", problem), repeated if `weighted`.

    Raises:
        RecordError: bad line, unknown problem_type, or --weighted without a pass_rate.
    """
    if not Path(path).is_file():
        raise RecordError(
            path,
            0,
            None,
            "file not found: make a curriculum with laimark-calibrate "
            "(docs/stages.md) or pass --curriculum FILE",
        )
    rows = []
    records = load_records(path, CalibratedProblem)
    require_judged(path, records)
    for line, rec in records:
        copies = 1
        if weighted:
            rate = rec.measured_rate
            if rate is None:
                raise RecordError(
                    path,
                    line,
                    "pass_rate",
                    "field 'pass_rate' is needed by --weighted but missing, null or -1 "
                    "(not calibrated: run laimark-calibrate on the file first)",
                )
            copies = max(1, round(3 * (1 - 2 * abs(rate - 0.5))))
        rows += [(f"{path}:{line}", rec)] * copies
    return rows


def mbpp_problem(d: dict) -> Problem:
    """One MBPP record as a Problem: signature and docstring (task text and first test) as the
    prompt, as evalplus shows MBPP; the reference code's imports come along.

    Raises:
        FieldError: a field is missing, of the wrong type, or the code has no tested function.
    """
    for name, kind in (("text", str), ("code", str), ("test_list", list)):
        if not isinstance(d.get(name), kind):
            raise FieldError(name, f"must be a {kind.__name__}, got {type(d.get(name)).__name__}")
    if not d["test_list"] or not all(isinstance(t, str) for t in d["test_list"]):
        raise FieldError("test_list", "must be a non-empty list of assert strings")
    try:
        tree = ast.parse(d["code"].replace("\r\n", "\n"))
    except SyntaxError as e:
        raise FieldError("code", f"does not parse: {e.msg} (line {e.lineno})") from None
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    fn = next((n for n in defs if f"{n.name}(" in d["test_list"][0]), None)
    if fn is None:
        raise FieldError("code", "defines no function that test_list[0] calls")
    imports = [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    returns = f" -> {ast.unparse(fn.returns)}" if fn.returns else ""
    text = d["text"].strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    example = d["test_list"][0].strip().replace("\\", "\\\\")
    prompt = "".join(f"{i}\n" for i in imports) + (
        f'def {fn.name}({ast.unparse(fn.args)}){returns}:\n    """{text}\n    {example}\n    """\n'
    )
    setup = d.get("test_setup_code") or ""
    return Problem(
        prompt=prompt,
        tests=(setup + "\n" if setup else "") + "\n".join(d["test_list"]),
        entry_point=fn.name,
        solution=d["code"],
        source=f"mbpp/{d.get('task_id')}",
    )


def load_mbpp(source: str, split: str) -> list[tuple[str, Problem]]:
    """MBPP from a local JSONL file, or from the hub with `datasets` when `source` is "hub"."""
    if source == "hub":
        try:
            from datasets import load_dataset

            rows = list(enumerate(load_dataset("google-research-datasets/mbpp", split=split), 1))
        except Exception as e:  # noqa: BLE001  (offline, unknown split: all one message)
            raise RecordError(
                "hub:mbpp",
                0,
                None,
                f"cannot load MBPP from the hub ({e}); pass "
                "--mbpp FILE with a local copy in its JSONL format",
            ) from None
    else:
        rows = list(iter_jsonl(source))
    out = []
    for line, d in rows:
        try:
            out.append((f"{source}:{line}", mbpp_problem(dict(d))))
        except FieldError as e:
            raise RecordError(source, line, e.field, str(e)) from None
    return out


def humaneval_problems() -> list[tuple[str, Problem]]:
    return [(p.source, p) for p in load_humaneval()]


@dataclass(frozen=True)
class DataConfig:
    """What laimark-train trains on: the data flags."""

    curriculum: str = "data/calibrated_selfgen.jsonl"
    selfgen_only: bool = False
    mbpp: str | None = None
    mbpp_split: str | None = None
    train_on_humaneval: bool = False
    weighted: bool = False

    def __post_init__(self) -> None:
        curated = self.mbpp or self.train_on_humaneval
        check(
            not (self.selfgen_only and curated),
            "--selfgen_only trains on the curriculum alone: drop --mbpp/--train_on_humaneval",
        )
        check(
            self.curriculum != "none" or bool(curated),
            "--curriculum none leaves nothing to train on: add --mbpp (or --train_on_humaneval)",
        )
        check(
            self.selfgen_only or bool(curated),
            "give --selfgen_only (the curriculum alone) or a curated set: --mbpp FILE|hub. The "
            "original LAIMARK's default without --selfgen_only (HumanEval + MBPP + the "
            "curriculum, which trains on the evaluation set) is --mbpp hub --train_on_humaneval",
        )
        check(
            not (self.weighted and self.curriculum == "none"),
            "--weighted weights curriculum problems by pass_rate; there is no curriculum",
        )
        check(
            self.mbpp_split is None or self.mbpp == "hub",
            "--mbpp_split only applies to --mbpp hub (a local file is used whole)",
        )


def load_training_problems(data: DataConfig) -> tuple[list[tuple[str, Problem]], dict]:
    """Every training problem with its origin, and what the sidecar says about the data."""
    meta: dict = {"sources": {}, "contaminated": [], "humaneval_overlap": []}
    problems: list[tuple[str, Problem]] = []
    if data.curriculum != "none":
        rows = load_curriculum(data.curriculum, data.weighted)
        meta["sources"]["curriculum"] = {
            "path": data.curriculum,
            "rows": len(rows),
            "sha256": file_sha256(data.curriculum),
        }
        for origin, p in dict(rows).items():
            if why := humaneval_overlap(p):
                meta["humaneval_overlap"].append(f"{origin}: {why}")
        if meta["humaneval_overlap"]:
            log.warning(
                "%d curriculum problems look taken from HumanEval (run laimark-check):\n%s",
                len(meta["humaneval_overlap"]),
                "\n".join(meta["humaneval_overlap"]),
            )
            meta["contaminated"].append("curriculum problems overlap HumanEval")
        problems += rows
    if data.mbpp:
        split = data.mbpp_split or "test"
        rows = load_mbpp(data.mbpp, split)
        sha = None if data.mbpp == "hub" else file_sha256(data.mbpp)
        meta["sources"]["mbpp"] = {
            "path": data.mbpp,
            "split": split if data.mbpp == "hub" else None,
            "rows": len(rows),
            "sha256": sha,
        }
        problems += rows
    if data.train_on_humaneval:
        rows = humaneval_problems()
        meta["sources"]["humaneval"] = {"rows": len(rows)}
        meta["contaminated"].append("--train_on_humaneval: trained on the HumanEval test set")
        log.warning("training on HumanEval: every output is marked contaminated")
        problems += rows
    if not problems:
        raise RecordError(data.curriculum, 0, None, "no training problems")
    meta["type_mix"] = type_mix(p for _, p in problems)
    if warning := mix_warning(meta["type_mix"]):
        log.warning("%s", warning)
        meta["type_mix_warning"] = warning
    return problems, meta


def item_fields(p) -> str:
    """The JSON of a problem's type-specific fields ("" for a code problem)."""
    own = ORIGINAL_ITEM_FIELDS.get(p.problem_type, ())
    return json.dumps({k: p.extra[k] for k in own}) if own else ""


def build_dataset(problems, fmt: SolveFormat, *, min_rows: int = 1, reserve=()):
    """A `datasets.Dataset` with TRL's `prompt` column (each problem's request in the solve
    format, from its task type) and the columns the reward rebuilds the problem from.

    Args:
        problems: (origin, Problem) pairs, the curriculum in play.
        fmt: the rollouts' solve format.
        min_rows: the prompts one optimiser step draws; a smaller curriculum is repeated whole
            until it has that many rows (TRL's sampler would otherwise draw no batch at all).
        reserve: (origin, Problem) pairs held back (`reserve` column True) to replace problems
            retired during training (`training.signal`).

    Besides the problem, each row has `key` (`Problem.key()`, shared by copies of a problem),
    `pass_rate` (the calibrated rate, or None) and `origin` ("file:line").
    """
    from datasets import Dataset

    rows = list(problems)
    if rows and len(rows) < min_rows:
        copies = -(-min_rows // len(rows))
        log.info(
            "%d training problems, %d prompts per step: the curriculum is repeated %d times",
            len(rows),
            min_rows,
            copies,
        )
        rows = rows * copies

    def row(origin, p, held_back):
        return {
            "prompt": task_type(p.problem_type).prompt(p, fmt),
            "problem_prompt": p.prompt,
            "tests": p.tests,
            "entry_point": p.entry_point,
            "problem_type": p.problem_type,
            # The item's own fields for types that need more than prompt and tests (deduction,
            # abduction: their dd_/ab_ fields), JSON so that every row has the same schema.
            "item": item_fields(p),
            "origin": origin,
            "key": p.key(),
            "pass_rate": getattr(p, "measured_rate", None),
            "reserve": held_back,
        }

    return Dataset.from_list(
        [row(o, p, False) for o, p in rows] + [row(o, p, True) for o, p in reserve]
    )


def load_problem_file(path: str, exclude: list[tuple[str, Problem]], what: str):
    """Problems of a JSONL file (candidates or calibrated records) without those in `exclude`.

    For the held-out problems of the diagnostics and the reserve of retirement: a problem that is
    also in training (same `Problem.key()`, or same entry point and prompt) is left out, so
    `--heldout candidates.jsonl` may be the very file the curriculum was calibrated from.

    Raises:
        RecordError: missing file, bad line, or a type no task type judges.
    """
    if not Path(path).is_file():
        raise RecordError(path, 0, None, f"file not found ({what})")
    records = load_records(path, CalibratedProblem)
    require_judged(path, records)
    taken = {p.key() for _, p in exclude} | {(p.entry_point, p.prompt) for _, p in exclude}
    kept = [
        (f"{path}:{line}", p)
        for line, p in records
        if p.key() not in taken and (p.entry_point, p.prompt) not in taken
    ]
    log.info(
        "%s: %d problems of %s (%d left out: also in training)",
        what,
        len(kept),
        path,
        len(records) - len(kept),
    )
    return kept

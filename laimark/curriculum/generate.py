"""Problem generation in rounds: plan attempts, sample replies, parse, verify, dedup, filter.

Shared by `laimark-generate` and `generate_and_calibrate_hf.py`. A round is `round_size` attempts
sampled together; every attempt gets a seed derived from the run seed and a stable key (its fresh
index, or the parent problem of a harder variant), and its topic and difficulty from that key too.
Each finished round is appended to a journal (one JSON line per round, with every reply and
verdict). On `--resume` the journal is replayed, and the first round not in it is planned exactly
as it would have been: a round cut short by a kill is sampled again with the same composition and
seeds, so the output matches an uninterrupted run.

The filters are the curriculum checks (`laimark.curriculum.checks.check_problems`), in funnel order:
parsed -> verified (reference solution passes twice identically, no stub passes, enough asserts
that call the function, no clock or randomness) -> unique (against problems already accepted) ->
clean (no HumanEval overlap). A rejected attempt records the stage and the first failing check.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from laimark.core.config import check, nested
from laimark.core.records import JsonlAppender, Problem
from laimark.core.seeds import item_seed
from laimark.curriculum.checks import (
    JACCARD_THRESHOLD,
    Adequacy,
    Deduper,
    add_adequacy_args,
    check_problems,
)
from laimark.curriculum.label import label_replies
from laimark.curriculum.parse import ParseError, parse_labelled_reply, parse_reply
from laimark.curriculum.prompts import (
    GENERATE_PROMPT_VERSION,
    LABELLED_PROMPT_VERSION,
    generate_prompt,
    harder_labelled_prompt,
    harder_prompt,
    labelled_prompt,
)

log = logging.getLogger(__name__)

DEFAULT_TOPICS = tuple(
    "string manipulation; list processing; counting with dictionaries; number theory; sorting "
    "and searching; grids given as lists of lists; intervals and ranges; parsing simple text "
    "formats; sets and uniqueness; prefix sums and running totals; stacks and bracket "
    "matching; recursion; bit manipulation; simple geometry with integers; date-free "
    "scheduling with integers; matrices; two pointers; sliding windows; string encoding and "
    "decoding; graph traversal on adjacency dicts; greedy choices; dynamic programming on "
    "sequences; combinatorics; text statistics".split("; ")
)
DIFFICULTIES = ("easy", "medium", "hard")
# How a problem's tests are made: "labelled", the model writes inputs and running its reference
# gives the expected outputs; "asserts", the model writes the asserts, expected values included
# (the original LAIMARK's protocol).
MODES = ("labelled", "asserts")
PROMPT_VERSIONS = {"labelled": LABELLED_PROMPT_VERSION, "asserts": GENERATE_PROMPT_VERSION}
MIN_INPUTS = 10  # test inputs asked for in the labelled mode
STAGES = ("parse", "verify", "unique", "clean")  # where a rejected attempt stopped
FUNNEL = ("generated", "parsed", "verified", "unique", "clean")
# Curriculum check codes that mean "the problem is not verified" (the rest have their own stage).
VERIFY_CODES = (
    "no_solution",
    "no_examples",
    "example_mismatch",
    "solution_fails",
    "nondeterministic",
    "nondeterministic_api",
    "vacuous",
    "few_tests",
    "test_without_call",
    "weak_tests",
)


@dataclass
class Attempt:
    """One request to the model: which prompt, with which seed, and where it came from."""

    attempt: int
    kind: str  # "fresh" or "variant"
    seed: int
    topic: str
    difficulty: str
    parent: str | None = None  # key of the problem a variant derives from

    def messages(self, min_tests: int, parents: dict[str, Problem], mode: str) -> list[dict]:
        parent = parents.get(self.parent) if self.kind == "variant" else None
        if mode == "labelled":
            inputs = max(MIN_INPUTS, min_tests)
            if parent is not None:
                return harder_labelled_prompt(parent.solution, inputs)
            return labelled_prompt(self.topic, self.difficulty, inputs)
        if parent is not None:
            return harder_prompt(parent.solution, parent.tests, max(5, min_tests))
        return generate_prompt(self.topic, self.difficulty, max(5, min_tests))


def _stage_of(codes: list[str]) -> str | None:
    return next((c for c in VERIFY_CODES if c in codes), None)


class Screener:
    """Turns replies into verdicts and keeps what a run has accepted so far.

    Args:
        config: the generation settings (filters).
        identity: the sampler's model identity (each accepted record's `source` and `generation`).
        seed: the run seed, recorded with each accepted record.
    """

    def __init__(self, config: GenerationConfig, identity: dict, seed: int):
        self.config = config
        self.source = f"generated by {identity['name']}"
        self.provenance = provenance(identity, seed)
        self.deduper = Deduper(config.jaccard_threshold, exclude=config.excluded())
        self.accepted: list[Problem] = []
        self.funnel: Counter = Counter({stage: 0 for stage in FUNNEL})
        self.reasons: Counter = Counter()  # first failing check of each rejected attempt
        self.codes: Counter = Counter()  # every failing check, for the summary

    def screen(self, attempts: list[Attempt], replies: list[str], sandbox) -> list[dict]:
        """Judge one round's replies in attempt order; returns one result dict per attempt."""
        results = [self._parse(a, reply) for a, reply in zip(attempts, replies, strict=True)]
        self._label(results, sandbox)
        todo = [(i, r["problem"]) for i, r in enumerate(results) if r["problem"] is not None]
        if todo:
            findings = check_problems(
                todo,
                sandbox,
                min_tests=self.config.min_tests,
                jaccard_threshold=self.config.jaccard_threshold,
                adequacy=self.config.adequacy,
            )
            for (i, _), finding in zip(todo, findings):
                # check_problems' own dedup runs within this round, failing problems included;
                # ours runs against accepted problems only (below), so its verdict is dropped.
                keep = [k for k, c in enumerate(finding.codes) if c != "duplicate"]
                results[i]["codes"] = [finding.codes[k] for k in keep]
                results[i]["notes"] = [finding.notes[k] for k in keep]
                results[i]["problem"].extra["adequacy"] = finding.adequacy
        for r in results:
            if r["problem"] is not None:
                self._decide(r)
            self.record(r)
        return results

    def _parse(self, attempt: Attempt, reply: str) -> dict:
        r = {
            **asdict(attempt),
            "reply": reply,
            "stage": None,
            "reason": None,
            "codes": [],
            "notes": [],
            "problem": None,
            "key": None,
        }
        try:
            if self.config.mode == "labelled":
                labelled = parse_labelled_reply(reply)
                parsed = labelled.problem
            else:
                labelled, parsed = None, parse_reply(reply)
        except ParseError as e:
            return {**r, "stage": "parse", "reason": e.code, "codes": [e.code], "notes": [str(e)]}
        generation = {
            **self.provenance,
            "seed": attempt.seed,
            "attempt": attempt.attempt,
            "prompt_version": self.config.prompt_version,
            "mode": self.config.mode,
        }
        problem = dataclasses.replace(
            parsed,
            topic=attempt.topic,
            difficulty=attempt.difficulty,
            source=self.source,
            seed_id=attempt.parent,
            extra={"generation": generation},
        )
        if labelled is not None:  # its tests come from execution, in `_label`
            labelled.problem = problem
            return {**r, "labelled": labelled}
        return {**r, "problem": problem, "key": problem.key()}

    def _label(self, results: list[dict], sandbox) -> None:
        """Give the labelled mode's parsed replies their tests, or their rejection."""
        todo = [r for r in results if "labelled" in r]
        if not todo:
            return
        outcomes = label_replies([r["labelled"] for r in todo], sandbox, self.config.min_tests)
        for r, out in zip(todo, outcomes):
            del r["labelled"]
            if out.problem is None:
                r.update(stage="verify", reason=out.code, codes=[out.code], notes=[out.note])
                r["labelling"] = out.stats
                continue
            out.problem.extra["generation"]["labelling"] = out.stats
            r.update(problem=out.problem, key=out.problem.key())

    def _decide(self, r: dict) -> None:
        problem = r["problem"]
        failed = _stage_of(r["codes"])
        why = None if failed else self.deduper.seen(problem)
        if failed:
            r.update(stage="verify", reason=failed)
        elif why:
            r.update(
                stage="unique",
                reason="duplicate",
                codes=r["codes"] + ["duplicate"],
                notes=r["notes"] + [f"duplicate: {why}"],
            )
        elif "humaneval_overlap" in r["codes"] and not self.config.keep_humaneval_overlap:
            r.update(stage="clean", reason="humaneval_overlap")

    def record(self, r: dict) -> None:
        """Count a result and, if accepted, remember its problem (also used to replay a journal).

        `r["problem"]` is a Problem (or None); `journal_form` turns it into its dict for the file.
        """
        reached = len(STAGES) if r["stage"] is None else STAGES.index(r["stage"])
        for stage in FUNNEL[: 1 + reached]:
            self.funnel[stage] += 1
        self.codes.update(r["codes"])
        if r["stage"] is not None:
            self.reasons[r["reason"]] += 1
            return
        self.deduper.add(r["problem"], f"attempt {r['attempt']}")
        self.accepted.append(r["problem"])


def journal_form(r: dict) -> dict:
    """An attempt's result as the journal stores it (its problem as a dict)."""
    return {**r, "problem": None if r["problem"] is None else r["problem"].to_dict()}


def live_form(r: dict) -> dict:
    """An attempt's result read back from the journal (its problem as a Problem)."""
    return {**r, "problem": None if r["problem"] is None else Problem.from_dict(r["problem"])}


class GenerationRun:
    """A resumable generation run: the journal, the attempt plan and the screener.

    Whether the journal may be continued with these settings is decided before, by the stage's
    `core.runs.Run`; this class only replays it.

    Args:
        journal_path: JSONL journal of rounds (created, or continued with `resume`).
        resume: continue an existing journal instead of refusing to touch it.
        config: the generation settings.
        seed: the run seed; every attempt's seed, topic and difficulty derive from it.
        identity: the sampler's model identity.
        round_size: attempts per round (the config's, or the sampler's batch size).
    """

    def __init__(
        self,
        journal_path,
        resume: bool,
        config: GenerationConfig,
        seed: int,
        identity: dict,
        round_size: int,
    ):
        self.config, self.seed = config, seed
        self.round_size = config.round_size or round_size
        self.screener = Screener(config, identity, seed)
        self.journal = JsonlAppender(journal_path, resume)
        self.rounds, self.fresh, self.attempts = 0, 0, 0
        self.variant_queue: list[str] = []  # keys of problems waiting for a harder variant
        self.parents: dict[str, Problem] = {}
        self.seconds: Counter = Counter()
        self.tokens = 0

    def replay(self, hook=None) -> int:
        """Apply the journal's rounds to the run state; returns how many there were.

        Args:
            hook: called with each round's results after the run has absorbed them, in the same
                order as after `commit` in a live run, so callers can rebuild their own state.

        """
        for line in self.journal.existing:
            results = [live_form(r) for r in line["attempts"]]
            self._advance(results)
            for r in results:
                self.screener.record(r)
            self.seconds.update(line.get("seconds", {}))
            self.tokens += line.get("tokens") or 0
            if hook is not None:
                hook(results)
        return len(self.journal.existing)

    def _advance(self, results: list[dict]) -> None:
        self.rounds += 1
        self.attempts += len(results)
        self.fresh += sum(r["kind"] == "fresh" for r in results)
        del self.variant_queue[: sum(r["kind"] == "variant" for r in results)]

    def request_variant(self, problem: Problem) -> None:
        """Queue a harder variant of `problem`; queued variants go first in the next rounds."""
        self.parents[problem.key()] = problem
        self.variant_queue.append(problem.key())

    def plan(self) -> list[Attempt]:
        """The next round's attempts: queued variants first, then fresh problems."""
        c, plan = self.config, []
        for key in self.variant_queue[: self.round_size]:
            parent = self.parents[key]
            plan.append(
                Attempt(
                    self.attempts + len(plan),
                    "variant",
                    item_seed(self.seed, "variant", key),
                    parent.topic,
                    "harder than " + (parent.difficulty or "the original"),
                    key,
                )
            )
        for fresh in range(self.fresh, self.fresh + self.round_size - len(plan)):
            rng = random.Random(item_seed(self.seed, "topic", fresh))
            plan.append(
                Attempt(
                    self.attempts + len(plan),
                    "fresh",
                    item_seed(self.seed, "fresh", fresh),
                    rng.choice(c.topics),
                    rng.choice(c.difficulty),
                )
            )
        return plan

    def run_round(self, sampler, sandbox) -> list[dict]:
        """Plan, sample and screen one round (not yet journaled: call `commit`)."""
        c, plan = self.config, self.plan()
        start, tokens = time.perf_counter(), getattr(sampler, "tokens_generated", None)
        replies = sampler.generate(
            [a.messages(c.min_tests, self.parents, c.mode) for a in plan],
            n=1,
            temperature=c.temperature,
            top_p=c.top_p,
            max_new_tokens=c.max_new_tokens,
            seeds=[a.seed for a in plan],
        )
        self._round_seconds = {"sample": time.perf_counter() - start}
        self._round_tokens = (sampler.tokens_generated - tokens) if tokens is not None else None
        start = time.perf_counter()
        results = self.screener.screen(plan, [r[0] for r in replies], sandbox)
        self._round_seconds["check"] = time.perf_counter() - start
        return results

    def commit(self, results: list[dict], extra_seconds: dict | None = None) -> None:
        """Journal a finished round and advance the plan past it."""
        seconds = {**self._round_seconds, **(extra_seconds or {})}
        self.journal.write(
            {
                "round": self.rounds,
                "seconds": seconds,
                "tokens": self._round_tokens,
                "attempts": [journal_form(r) for r in results],
            }
        )
        self.seconds.update(seconds)
        self.tokens += self._round_tokens or 0
        self._advance(results)

    def summary(self) -> dict:
        """Funnel, rejection reasons and timing, for the metadata sidecar."""
        sc = self.screener
        return {
            "rounds": self.rounds,
            "attempts": self.attempts,
            "accepted": len(sc.accepted),
            "funnel": dict(sc.funnel),
            "rejected_by": dict(sc.reasons.most_common()),
            "failed_checks": dict(sc.codes.most_common()),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "tokens_generated": self.tokens,
        }

    def status(self) -> dict:
        """The progress bar's status line: attempts, accepted, the commonest rejections."""
        sc = self.screener
        top = ", ".join(f"{k} {v}" for k, v in sc.reasons.most_common(3))
        # Screened replies count as soon as they are judged, before their round is committed.
        screened = len(sc.accepted) + sum(sc.reasons.values())
        return {
            "attempts": max(self.attempts, screened),
            "accepted": len(sc.accepted),
            "rejected": top or "-",
        }

    def close(self) -> None:
        self.journal.close()


# ---------------------------------------------------------------- flags shared by the scripts
def add_generation_args(parser, budget_flag: str = "--max_new_tokens") -> None:
    """Flags of the generation stage, shared by laimark-generate and the HF pipeline (which
    spells the budget `--gen_max_new_tokens`: its `--max_new_tokens` is calibration's, as in the
    original's generate_and_calibrate_hf.py)."""
    g = parser.add_argument_group("generation")
    g.add_argument(
        "--mode",
        choices=MODES,
        default="labelled",
        help="labelled (default): the model writes the function and test inputs, running its "
        "reference gives the expected outputs; asserts: the model writes the asserts, expected "
        "values included (the original LAIMARK's protocol)",
    )
    g.add_argument(
        "--topics",
        nargs="+",
        metavar="TOPIC",
        default=list(DEFAULT_TOPICS),
        help="topics to draw from, one per attempt (default: 24 built-in topics)",
    )
    g.add_argument(
        "--difficulty",
        nargs="+",
        metavar="LEVEL",
        default=list(DIFFICULTIES),
        help="difficulty labels to draw from (default: easy medium hard)",
    )
    g.add_argument(
        "--temperature",
        type=float,
        default=0.9,
        help="sampling temperature for writing problems (default 0.9, the original's)",
    )
    g.add_argument("--top_p", type=float, default=0.95, help="nucleus sampling (default 0.95)")
    g.add_argument(
        budget_flag,
        dest="max_new_tokens",
        type=int,
        default=768,
        help="token budget per reply (default 768)",
    )
    g.add_argument(
        "--exclude_names",
        metavar="FILE",
        help="function names never to accept, one per line (e.g. an earlier round's), as in "
        "the original's generate_and_calibrate_hf.py",
    )
    g.add_argument(
        "--round_size",
        type=int,
        default=None,
        help="attempts sampled together per round (default: --batch_size)",
    )
    add_filter_args(parser)


def add_filter_args(parser, min_tests: bool = True) -> None:
    """Curriculum filter flags; calibration, which does not re-verify, takes only the dedup and
    HumanEval ones for its input."""
    if min_tests:
        add_adequacy_args(parser)
    g = parser.add_argument_group("filters")
    if min_tests:
        g.add_argument(
            "--min_tests",
            type=int,
            default=3,
            help="fewest asserts calling the function a problem may have (default 3)",
        )
    g.add_argument(
        "--jaccard_threshold",
        type=float,
        default=JACCARD_THRESHOLD,
        help="docstring word-trigram Jaccard above which two problems are duplicates "
        "(default %(default)s, the original's; the same entry point is always a duplicate)",
    )
    g.add_argument(
        "--keep_humaneval_overlap",
        action="store_true",
        help="report but do not drop problems that look taken from HumanEval",
    )


@dataclass(frozen=True)
class GenerationConfig:
    """How problems are asked for and screened: the flags of `add_generation_args`."""

    mode: str = "labelled"
    topics: list[str] = field(default_factory=lambda: list(DEFAULT_TOPICS))
    difficulty: list[str] = field(default_factory=lambda: list(DIFFICULTIES))
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int = 768
    round_size: int | None = None  # None: the sampler's batch size
    min_tests: int = 3
    jaccard_threshold: float = JACCARD_THRESHOLD
    keep_humaneval_overlap: bool = False
    exclude_names: str | None = None
    adequacy: Adequacy = nested(Adequacy)

    def __post_init__(self) -> None:
        check(self.mode in MODES, f"--mode must be one of {', '.join(MODES)}")
        check(bool(self.topics and self.difficulty), "--topics and --difficulty need a value each")
        check(
            self.temperature >= 0 and 0 < self.top_p <= 1,
            "--temperature must be >= 0 and --top_p in (0, 1]",
        )
        check(
            (self.round_size is None or self.round_size >= 1) and self.max_new_tokens >= 1,
            "--round_size and --max_new_tokens must be >= 1",
        )
        check(0 < self.jaccard_threshold <= 1, "--jaccard_threshold must be in (0, 1]")
        check(self.min_tests >= 1, "--min_tests must be >= 1")
        check(
            self.exclude_names is None or Path(self.exclude_names).is_file(),
            f"--exclude_names {self.exclude_names}: no such file",
        )

    @property
    def prompt_version(self) -> str:
        return PROMPT_VERSIONS[self.mode]

    def excluded(self) -> list[str]:
        """The names of --exclude_names, one per line (blank lines and # comments skipped)."""
        if self.exclude_names is None:
            return []
        lines = Path(self.exclude_names).read_text(encoding="utf-8").splitlines()
        return [n.strip() for n in lines if n.strip() and not n.lstrip().startswith("#")]


def provenance(identity: dict, seed: int) -> dict:
    """What each accepted problem records under `generation` about the model that wrote it."""
    return {
        "model": identity["name"],
        "model_sha256": identity.get("sha256"),
        "model_revision": identity.get("revision"),
        "adapters": [a.get("sha256") for a in identity.get("adapters", [])],
        "run_seed": seed,
    }

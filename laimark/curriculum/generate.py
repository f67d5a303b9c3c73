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

import hashlib
import json
import logging
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass

from laimark.core.records import JsonlAppender, Problem
from laimark.curriculum.checks import Deduper, check_problems
from laimark.curriculum.parse import ParseError, parse_reply
from laimark.curriculum.prompts import (
    GENERATE_PROMPT_VERSION,
    generate_prompt,
    harder_prompt,
)
from laimark.models.sampling import item_seed

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
STAGES = ("parse", "verify", "unique", "clean")  # where a rejected attempt stopped
FUNNEL = ("generated", "parsed", "verified", "unique", "clean")
# Curriculum check codes that mean "the problem is not verified" (the rest have their own stage).
VERIFY_CODES = (
    "no_solution",
    "solution_fails",
    "nondeterministic",
    "nondeterministic_api",
    "vacuous",
    "few_tests",
    "test_without_call",
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

    def messages(self, settings: dict, parents: dict[str, Problem]) -> list[dict]:
        if self.kind == "variant":
            parent = parents[self.parent]
            return harder_prompt(parent.solution, parent.tests, max(5, settings["min_tests"]))
        return generate_prompt(self.topic, self.difficulty, max(5, settings["min_tests"]))


def config_id(config: dict) -> str:
    """Short hash of the settings that decide a run's output; a journal only resumes under it."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _stage_of(codes: list[str]) -> str | None:
    return next((c for c in VERIFY_CODES if c in codes), None)


class Screener:
    """Turns replies into verdicts and keeps what a run has accepted so far.

    Args:
        settings: min_tests, jaccard_threshold, keep_humaneval_overlap, source, provenance (a
            dict stored under `generation` in each accepted record, e.g. model identity).
    """

    def __init__(self, settings: dict):
        self.settings = settings
        self.deduper = Deduper(settings["jaccard_threshold"])
        self.accepted: list[Problem] = []
        self.funnel: Counter = Counter({stage: 0 for stage in FUNNEL})
        self.reasons: Counter = Counter()  # first failing check of each rejected attempt
        self.codes: Counter = Counter()  # every failing check, for the summary

    def screen(self, attempts: list[Attempt], replies: list[str], sandbox) -> list[dict]:
        """Judge one round's replies in attempt order; returns one result dict per attempt."""
        results = [self._parse(a, reply) for a, reply in zip(attempts, replies, strict=True)]
        todo = [
            (i, Problem.from_dict(r["problem"]))
            for i, r in enumerate(results)
            if r["problem"] is not None
        ]
        if todo:
            findings = check_problems(
                todo,
                sandbox,
                min_tests=self.settings["min_tests"],
                jaccard_threshold=self.settings["jaccard_threshold"],
            )
            for (i, _), finding in zip(todo, findings):
                # check_problems' own dedup runs within this round, failing problems included;
                # ours runs against accepted problems only (below), so its verdict is dropped.
                keep = [k for k, c in enumerate(finding.codes) if c != "duplicate"]
                results[i]["codes"] = [finding.codes[k] for k in keep]
                results[i]["notes"] = [finding.notes[k] for k in keep]
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
            parsed = parse_reply(reply)
        except ParseError as e:
            return {**r, "stage": "parse", "reason": e.code, "codes": [e.code], "notes": [str(e)]}
        generation = {
            **self.settings["provenance"],
            "seed": attempt.seed,
            "attempt": attempt.attempt,
            "prompt_version": GENERATE_PROMPT_VERSION,
        }
        problem = Problem(
            prompt=parsed.prompt,
            tests=parsed.tests,
            entry_point=parsed.entry_point,
            solution=parsed.solution,
            topic=attempt.topic,
            difficulty=attempt.difficulty,
            source=self.settings["source"],
            seed_id=attempt.parent,
            extra={"generation": generation},
        )
        return {**r, "problem": problem.to_dict(), "key": problem.key()}

    def _decide(self, r: dict) -> None:
        problem = Problem.from_dict(r["problem"])
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
        elif "humaneval_overlap" in r["codes"] and not self.settings["keep_humaneval_overlap"]:
            r.update(stage="clean", reason="humaneval_overlap")

    def record(self, r: dict) -> None:
        """Count a result and, if accepted, remember its problem (also used to replay a journal)."""
        reached = len(STAGES) if r["stage"] is None else STAGES.index(r["stage"])
        for stage in FUNNEL[: 1 + reached]:
            self.funnel[stage] += 1
        self.codes.update(r["codes"])
        if r["stage"] is not None:
            self.reasons[r["reason"]] += 1
            return
        problem = Problem.from_dict(r["problem"])
        self.deduper.add(problem, f"attempt {r['attempt']}")
        self.accepted.append(problem)


class GenerationRun:
    """A resumable generation run: the journal, the attempt plan and the screener.

    Args:
        journal_path: JSONL journal of rounds (created, or continued with `resume`).
        resume: continue an existing journal instead of refusing to touch it.
        config: every setting that decides the output (checked against the journal on resume).
        settings: as for `Screener`, plus seed, topics, difficulties, round_size, temperature,
            top_p, max_new_tokens.
    """

    def __init__(self, journal_path, resume: bool, config: dict, settings: dict):
        self.settings, self.config_id = settings, config_id(config)
        self.screener = Screener(settings)
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

        Raises:
            ValueError: the journal was written with different settings.
        """
        for n, line in enumerate(self.journal.existing, start=1):
            if line.get("config") != self.config_id:
                raise ValueError(
                    f"{self.journal.path}:{n}: written with other settings (config "
                    f"{line.get('config')}, now {self.config_id}); use the same flags to resume "
                    "or start a new --output"
                )
            self._advance(line["attempts"])
            for r in line["attempts"]:
                self.screener.record(r)
            self.seconds.update(line.get("seconds", {}))
            self.tokens += line.get("tokens") or 0
            if hook is not None:
                hook(line["attempts"])
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
        s, plan = self.settings, []
        for key in self.variant_queue[: s["round_size"]]:
            parent = self.parents[key]
            plan.append(
                Attempt(
                    self.attempts + len(plan),
                    "variant",
                    item_seed(s["seed"], "variant", key),
                    parent.topic,
                    "harder than " + (parent.difficulty or "the original"),
                    key,
                )
            )
        for fresh in range(self.fresh, self.fresh + s["round_size"] - len(plan)):
            rng = random.Random(item_seed(s["seed"], "topic", fresh))
            plan.append(
                Attempt(
                    self.attempts + len(plan),
                    "fresh",
                    item_seed(s["seed"], "fresh", fresh),
                    rng.choice(s["topics"]),
                    rng.choice(s["difficulties"]),
                )
            )
        return plan

    def run_round(self, sampler, sandbox) -> list[dict]:
        """Plan, sample and screen one round (not yet journaled: call `commit`)."""
        s, plan = self.settings, self.plan()
        start, tokens = time.perf_counter(), getattr(sampler, "tokens_generated", None)
        replies = sampler.generate(
            [a.messages(s, self.parents) for a in plan],
            n=1,
            temperature=s["temperature"],
            top_p=s["top_p"],
            max_new_tokens=s["max_new_tokens"],
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
                "config": self.config_id,
                "seconds": seconds,
                "tokens": self._round_tokens,
                "attempts": results,
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

    def close(self) -> None:
        self.journal.close()


# ---------------------------------------------------------------- flags shared by the scripts
def add_generation_args(parser) -> None:
    """Flags of the generation stage, shared by laimark-generate and the HF pipeline."""
    g = parser.add_argument_group("generation")
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
        default=0.8,
        help="sampling temperature for writing problems (default 0.8)",
    )
    g.add_argument("--top_p", type=float, default=0.95, help="nucleus sampling (default 0.95)")
    g.add_argument(
        "--max_new_tokens", type=int, default=768, help="token budget per reply (default 768)"
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
        default=0.7,
        help="docstring word-trigram Jaccard at which two problems are duplicates "
        "(default 0.7; same entry point is always a duplicate)",
    )
    g.add_argument(
        "--keep_humaneval_overlap",
        action="store_true",
        help="report but do not drop problems that look taken from HumanEval",
    )


def generation_settings(args, identity: dict) -> tuple[dict, dict]:
    """(settings, config) for a GenerationRun from parsed flags and the sampler's identity.

    `config` holds what decides the output (the resume check); count and max_attempts are left
    out so that a finished run can be extended.
    """
    provenance = {
        "model": identity["name"],
        "model_sha256": identity.get("sha256"),
        "model_revision": identity.get("revision"),
        "adapters": [a.get("sha256") for a in identity.get("adapters", [])],
        "run_seed": args.seed,
    }
    settings = {
        "seed": args.seed,
        "topics": list(args.topics),
        "difficulties": list(args.difficulty),
        "round_size": args.round_size or args.batch_size,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "max_new_tokens": args.max_new_tokens,
        "min_tests": args.min_tests,
        "jaccard_threshold": args.jaccard_threshold,
        "keep_humaneval_overlap": args.keep_humaneval_overlap,
        "source": f"generated by {identity['name']}",
        "provenance": provenance,
    }
    config = {**settings, "prompt_version": GENERATE_PROMPT_VERSION}
    return settings, config


def check_generation_args(args) -> str | None:
    """A usage problem with the generation flags, or None."""
    if not args.topics or not args.difficulty:
        return "--topics and --difficulty need at least one value each"
    if args.temperature < 0 or not 0 < args.top_p <= 1:
        return "--temperature must be >= 0 and --top_p in (0, 1]"
    if (args.round_size or args.batch_size) < 1 or args.max_new_tokens < 1:
        return "--round_size and --max_new_tokens must be >= 1"
    if not 0 < args.jaccard_threshold <= 1:
        return "--jaccard_threshold must be in (0, 1]"
    return None

"""The curriculum stages as the commands run them: check, generate, calibrate, both in one loop.

Each stage takes its typed config, opens its output through `core.runs.Run` (overwrite and
resume rules, the sidecar) and returns an exit code: 0 done, 1 nothing produced. The commands
(`check.py`, `generate_problems.py`, `calibrate_problems.py`, `generate_and_calibrate_hf.py`)
only parse flags into these configs.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from laimark.core.cli import EXIT_FAILED, EXIT_OK, printable
from laimark.core.config import check, nested
from laimark.core.progress import Heartbeat, Throughput
from laimark.core.records import (
    ORIGINAL_ITEM_FIELDS,
    CalibratedProblem,
    Problem,
    load_records,
    write_jsonl_atomic,
)
from laimark.core.runs import Run
from laimark.core.seeds import DEFAULT_SEED
from laimark.curriculum.calibrate import (
    CalibrationConfig,
    MeasuredStore,
    calibrated,
    decide,
    heldout_path,
    is_heldout,
    plot_histogram,
    prefilter,
    split_heldout,
    window_counts,
)
from laimark.curriculum.checks import JACCARD_THRESHOLD, Adequacy, check_problems
from laimark.curriculum.decontam import Evidence, decontaminate, write_report
from laimark.curriculum.generate import GenerationConfig, GenerationRun
from laimark.execution.sandbox import SandboxConfig
from laimark.models import sampling
from laimark.models.sampling import ENGINE_FREE, ModelConfig
from laimark.tasks import mix_warning, require_judged, type_mix, unjudged_type

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- check
@dataclass(frozen=True)
class CheckConfig:
    """laimark-check: is a curriculum file fit to train on? Writes nothing but its report."""

    path: str = ""
    json: bool = False
    min_tests: int = 3
    jaccard_threshold: float = JACCARD_THRESHOLD
    no_humaneval: bool = False
    adequacy: Adequacy = nested(Adequacy)
    sandbox: SandboxConfig = nested(SandboxConfig)


def check_file(config: CheckConfig) -> int:
    records = load_records(config.path, CalibratedProblem)
    # Deduction/abduction items are about a program, not a problem to solve: the code checks do not
    # apply (their task types judge them in calibration and training). Said, not checked.
    mix = type_mix(r for _, r in records)
    skipped = [(line, r) for line, r in records if r.problem_type in ORIGINAL_ITEM_FIELDS]
    records = [(line, r) for line, r in records if r.problem_type not in ORIGINAL_ITEM_FIELDS]
    with config.sandbox.open() as sandbox:
        findings = check_problems(
            records,
            sandbox,
            min_tests=config.min_tests,
            jaccard_threshold=config.jaccard_threshold,
            humaneval=not config.no_humaneval,
            progress=not config.json,
            adequacy=config.adequacy,
        )
    for f in findings:
        if config.json:
            print(json.dumps(f.to_dict()))
        elif not f.ok:
            # Notes quote the sandbox's verdicts, so they hold text the model wrote.
            print(printable(f"{config.path}:{f.line}: {f.entry_point}: " + "; ".join(f.notes)))
    bad = sum(not f.ok for f in findings)
    report = None
    if not config.no_humaneval:
        report = write_report(
            config.path, records, [Evidence(**_evidence_fields(f.decontam)) for f in findings]
        )
    if config.json:
        for line, r in skipped:
            print(
                json.dumps(
                    {
                        "line": line,
                        "entry_point": r.entry_point,
                        "skipped": unjudged_type(r) or f"a {r.problem_type} item",
                    }
                )
            )
    else:
        for line, r in skipped:
            why = unjudged_type(r) or f"a {r.problem_type} item: the checks here are for code"
            print(f"{config.path}:{line}: {r.entry_point}: not checked ({why})")
        print(
            f"{len(findings)} records, {len(findings) - bad} ok, {bad} with problems "
            f"(sandbox: {sandbox.level})"
            + (f"; {len(skipped)} deduction/abduction records not checked" if skipped else "")
        )
        if report:
            print(f"decontamination report: {report}")
        if len(mix) > 1:
            print("type mix: " + ", ".join(f"{k} {v:.0%}" for k, v in mix.items()))
    if warning := mix_warning(mix):
        log.warning("%s", warning)
    return EXIT_FAILED if bad else EXIT_OK


def _evidence_fields(d: dict) -> dict:
    return {k: d[k] for k in ("nearest", "measures", "flagged", "reasons") if k in d}


def decontamination_report(path, problems: list, sandbox) -> str:
    """Write `<path>.decontam.json` for the problems a stage wrote to `path`; returns its path."""
    return write_report(path, list(enumerate(problems, 1)), decontaminate(problems, sandbox))


# ---------------------------------------------------------------- generate
@dataclass(frozen=True)
class GenerateConfig:
    """laimark-generate: write up to `count` verified problems to `output`."""

    output: str = "runs/candidates.jsonl"
    count: int = 50
    seed: int = DEFAULT_SEED
    max_attempts: int | None = None  # None: 10 x count
    journal: str | None = None  # None: <output>.journal.jsonl
    resume: bool = False
    generation: GenerationConfig = nested(GenerationConfig)
    model: ModelConfig = nested(ModelConfig)
    sandbox: SandboxConfig = nested(SandboxConfig)

    # A finished run may be extended: these decide how far it goes, not what it makes.
    RESUME_FREE = ("count", "max_attempts", "journal", "generation.round_size", *ENGINE_FREE)

    def __post_init__(self) -> None:
        check(self.count >= 1, "--count must be >= 1")
        check(self.max_attempts is None or self.max_attempts >= 1, "--max_attempts must be >= 1")


def generate(config: GenerateConfig) -> int:
    journal = Path(config.journal or config.output + ".journal.jsonl")
    run = Run(
        "laimark-generate",
        config.output,
        config,
        resume=config.resume,
        side=[journal],
        free=GenerateConfig.RESUME_FREE,
    )
    sampler = sampling.sampler_for(config.model)
    run.check_model(sampler.identity)
    gen = GenerationRun(
        journal,
        run.resumed,
        config.generation,
        config.seed,
        dict(sampler.identity),
        config.model.batch_size,
    )
    gen.replay()
    accepted, count = gen.screener.accepted, config.count
    if gen.rounds:
        log.info(
            "resumed: %d rounds, %d attempts, %d accepted", gen.rounds, gen.attempts, len(accepted)
        )
    max_attempts = config.max_attempts or 10 * count
    speed = Throughput(sampler)
    with (
        config.sandbox.open() as sandbox,
        tqdm(
            total=count, desc="accepted", unit="problem", initial=min(len(accepted), count)
        ) as bar,
        Heartbeat(bar, lambda: {**gen.status(), "tok/s": speed.rate()}),
    ):
        run.record(sandbox=sandbox.describe())
        run.write()
        while len(accepted) < count and gen.attempts < max_attempts:
            before = len(accepted)
            gen.commit(gen.run_round(sampler, sandbox))
            write_jsonl_atomic(config.output, accepted[:count])
            bar.update(min(len(accepted), count) - min(before, count))
            log.debug("round %d: %s", gen.rounds, dict(gen.screener.reasons))
        kept = accepted[:count]
        report = decontamination_report(config.output, kept, sandbox)
    gen.close()
    write_jsonl_atomic(config.output, kept)
    summary = gen.summary()
    work = sum(summary["seconds"].values())
    run.record(
        journal=str(journal),
        decontamination=report,
        funnel=summary.pop("funnel"),
        counts={
            **summary,
            "written": len(kept),
            "surplus": len(accepted) - len(kept),
            "complete": len(kept) >= count,
            "accepted_per_hour": round(len(kept) / work * 3600, 2) if work else None,
        },
    )
    run.finish(work_seconds=work)
    _log_funnel(run.meta["funnel"], len(kept), config.output)
    if len(kept) < count:
        log.warning(
            "stopped after %d attempts (--max_attempts) with %d of %d problems",
            gen.attempts,
            len(kept),
            count,
        )
    return EXIT_OK if kept else EXIT_FAILED


def _log_funnel(funnel: dict, written: int, output: str) -> None:
    log.info(
        "funnel: %s; wrote %d problems to %s",
        " -> ".join(f"{k} {v}" for k, v in funnel.items()),
        written,
        output,
    )


# ---------------------------------------------------------------- calibrate
@dataclass(frozen=True)
class CalibrateConfig:
    """laimark-calibrate: measure each input problem's pass rate; keep those in the window."""

    input: str = ""
    output: str = ""
    seed: int = DEFAULT_SEED
    measured: str | None = None  # None: <output>.measured.jsonl
    plot: str | None = None  # None: <output>.hist.png
    keep_all: bool = False
    resume: bool = False
    jaccard_threshold: float = JACCARD_THRESHOLD
    keep_humaneval_overlap: bool = False
    window: CalibrationConfig = nested(CalibrationConfig)
    model: ModelConfig = nested(ModelConfig)
    sandbox: SandboxConfig = nested(SandboxConfig)

    # The window and what is written may change: measurements depend on neither.
    RESUME_FREE = (
        "measured",
        "plot",
        "keep_all",
        "window.lo",
        "window.hi",
        *ENGINE_FREE,
    )

    def __post_init__(self) -> None:
        check(0 < self.jaccard_threshold <= 1, "--jaccard_threshold must be in (0, 1]")


def calibrate(config: CalibrateConfig) -> int:
    records = load_records(config.input, Problem)
    require_judged(config.input, records)
    measured_path = Path(config.measured or config.output + ".measured.jsonl")
    held_path = heldout_path(config.output)
    run = Run(
        "laimark-calibrate",
        config.output,
        config,
        resume=config.resume,
        side=[measured_path, held_path],
        free=CalibrateConfig.RESUME_FREE,
    )
    run.add_input(config.input)
    window = config.window
    kept, dropped = prefilter(records, config.jaccard_threshold, config.keep_humaneval_overlap)
    for d in dropped:
        log.info("%s:%d: %s dropped (%s)", config.input, d["line"], d["entry_point"], d["note"])
    sampler = sampling.sampler_for(config.model)
    run.check_model(sampler.identity)
    identity = dict(sampler.identity)
    store = MeasuredStore(measured_path, run.resumed, window, config.seed)
    speed, measurements = Throughput(sampler), []

    def status() -> dict:
        c = window_counts(measurements, window)
        return {k: c[k] for k in ("in_window", "too_hard", "too_easy")} | {"tok/s": speed.rate()}

    with (
        config.sandbox.open() as sandbox,
        tqdm(total=len(kept), desc="calibrating", unit="problem") as bar,
        Heartbeat(bar, status),
    ):
        run.record(sandbox=sandbox.describe(), solve_format=window.solve.to_dict())
        run.write()
        # batch_size problems at a time: their samples are generated in one call (in flight
        # together on an engine); each chunk's measurements are stored as soon as it ends.
        size = max(1, config.model.batch_size)
        for at in range(0, len(kept), size):
            chunk = [p for _, p in kept[at : at + size]]
            measurements += store.measure_many(chunk, sampler, sandbox)
            bar.update(len(chunk))
        out = [
            calibrated(p, m, window, identity, config.seed) for (_, p), m in zip(kept, measurements)
        ]
        out = [r for r in out if config.keep_all or r.learnability_zone]
        out, held = split_heldout(out, window.heldout_share)
        write_jsonl_atomic(config.output, out)
        write_jsonl_atomic(held_path, held)
        report = decontamination_report(config.output, out, sandbox)
        decontamination_report(held_path, held, sandbox)
    store.close()
    counts = window_counts(measurements, window)
    plot = config.plot or config.output + ".hist.png"
    title = f"{counts['in_window']} of {counts['measured']} problems in the window"
    plot_histogram(measurements, window.lo, window.hi, plot, title)
    counts.update(
        heldout=len(held),
        input=len(records),
        dropped_duplicate=sum(d["reason"] == "duplicate" for d in dropped),
        dropped_humaneval_overlap=sum(d["reason"] == "humaneval_overlap" for d in dropped),
        written=len(out),
    )
    run.record(
        counts=counts,
        measured=str(measured_path),
        heldout=held_path,
        decontamination=report,
        plot=plot,
        dropped=dropped,
        funnel=_funnel(config.input, counts),
    )
    run.finish()
    log.info(
        "%d of %d measured problems in [%g, %g] (too hard %d, too easy %d); wrote %d to %s "
        "and %d held-out ones to %s",
        counts["in_window"],
        counts["measured"],
        window.lo,
        window.hi,
        counts["too_hard"],
        counts["too_easy"],
        len(out),
        config.output,
        len(held),
        held_path,
    )
    # 1 when nothing can be trained on: no problem in the window outside the held-out split
    return EXIT_OK if counts["in_window"] - len(held) > 0 else EXIT_FAILED


def _funnel(input_path: str, counts: dict) -> dict:
    """The whole survival funnel: generation's (from the input's sidecar, if any), then ours."""
    funnel = {}
    try:
        funnel = dict(json.loads(Path(input_path + ".meta.json").read_text()).get("funnel", {}))
    except (OSError, ValueError):
        pass
    funnel.update(input=counts["input"], measured=counts["measured"], in_window=counts["in_window"])
    return funnel


# ---------------------------------------------------------------- generate and calibrate
@dataclass(frozen=True)
class PipelineConfig:
    """generate_and_calibrate_hf: generate, verify and calibrate until `target` are in the window."""

    output: str = "runs/calibrated_hf.jsonl"
    target: int = 20
    seed: int = DEFAULT_SEED
    max_attempts: int | None = None  # None: 20 x target
    harder_variants: bool = False
    keep_all: bool = False
    resume: bool = False
    generation: GenerationConfig = nested(GenerationConfig)
    window: CalibrationConfig = nested(CalibrationConfig)
    model: ModelConfig = nested(ModelConfig)
    sandbox: SandboxConfig = nested(SandboxConfig)

    # A round's size only sets when queued variants are asked: every attempt's seed comes from
    # its index or its parent's key, and the journal replays the rounds as they ran.
    RESUME_FREE = ("target", "max_attempts", "keep_all", "generation.round_size", *ENGINE_FREE)

    def __post_init__(self) -> None:
        check(self.target >= 1, "--target must be >= 1")
        check(self.max_attempts is None or self.max_attempts >= 1, "--max_attempts must be >= 1")


class _Kept:
    """What calibration kept and measured, rebuilt identically from a journal on resume."""

    def __init__(self, config: PipelineConfig, gen: GenerationRun, store: MeasuredStore, identity):
        self.config, self.gen, self.store, self.identity = config, gen, store, identity
        self.kept: list[CalibratedProblem] = []
        self.held: list[CalibratedProblem] = []
        self.measured: list[dict] = []

    def absorb(self, results: list[dict]) -> None:
        c = self.config
        for r in results:
            m = r.get("calibration")
            if m is None:
                continue
            self.measured.append(self.store.get(m["key"]) or m)  # the full one, if the file has it
            record = calibrated(r["problem"], m, c.window, self.identity, c.seed)
            if record.learnability_zone and is_heldout(record, c.window.heldout_share):
                self.held.append(record)
            elif c.keep_all or record.learnability_zone:
                self.kept.append(record)
            if c.harder_variants and m["pass_rate"] >= c.window.lo:
                self.gen.request_variant(r["problem"])

    def in_window(self) -> int:
        """In-window problems to train on (the held-out ones do not count towards the target)."""
        return sum(bool(k.learnability_zone) for k in self.kept)

    def write(self, output: str, held_path: str) -> None:
        write_jsonl_atomic(output, self.kept)
        write_jsonl_atomic(held_path, self.held)


def generate_and_calibrate(config: PipelineConfig) -> int:
    journal, measured = (Path(config.output + s) for s in (".journal.jsonl", ".measured.jsonl"))
    held_path = heldout_path(config.output)
    run = Run(
        "generate_and_calibrate_hf",
        config.output,
        config,
        resume=config.resume,
        side=[journal, measured, held_path],
        free=PipelineConfig.RESUME_FREE,
    )
    sampler = sampling.sampler_for(config.model)
    run.check_model(sampler.identity)
    identity, window, target = dict(sampler.identity), config.window, config.target
    gen = GenerationRun(
        journal, run.resumed, config.generation, config.seed, identity, config.model.batch_size
    )
    store = MeasuredStore(measured, run.resumed, window, config.seed)
    state = _Kept(config, gen, store, identity)
    gen.replay(state.absorb)
    max_attempts = config.max_attempts or 20 * target
    speed = Throughput(sampler)

    def status() -> dict:
        return {**gen.status(), "measured": len(state.measured), "tok/s": speed.rate()}

    with (
        config.sandbox.open() as sandbox,
        tqdm(
            total=target, desc="in window", unit="problem", initial=min(state.in_window(), target)
        ) as bar,
        Heartbeat(bar, status),
    ):
        run.record(sandbox=sandbox.describe(), solve_format=window.solve.to_dict())
        run.write()
        while state.in_window() < target and gen.attempts < max_attempts:
            results, found = gen.run_round(sampler, sandbox), state.in_window()
            begin = time.perf_counter()
            # The round's new problems are measured together (one call per stage, all in
            # flight on an engine), so the last round may pass the target by a few.
            clean = [r for r in results if r["stage"] is None]
            measured = store.measure_many([r["problem"] for r in clean], sampler, sandbox)
            for r, m in zip(clean, measured, strict=True):
                r["calibration"] = {k: m[k] for k in ("key", "samples", "n_passed", "pass_rate")}
                found += decide(m, window) and not is_heldout(r["problem"], window.heldout_share)
            gen.commit(results, {"calibrate": time.perf_counter() - begin})
            state.absorb(results)
            state.write(config.output, held_path)
            bar.update(min(found, target) - bar.n)
        state.write(config.output, held_path)
        report = decontamination_report(config.output, state.kept, sandbox)
        decontamination_report(held_path, state.held, sandbox)
    gen.close()
    store.close()
    counts = window_counts(state.measured, window)
    plot = config.output + ".hist.png"
    title = f"{counts['in_window']} of {counts['measured']} problems in the window"
    plot_histogram(state.measured, window.lo, window.hi, plot, title)
    summary = gen.summary()
    funnel = {
        **summary.pop("funnel"),
        "measured": counts["measured"],
        "in_window": counts["in_window"],
    }
    work = sum(summary["seconds"].values())
    run.record(
        funnel=funnel,
        plot=plot,
        journal=str(journal),
        measured=str(measured),
        heldout=held_path,
        decontamination=report,
        counts={
            **counts,
            **summary,
            "written": len(state.kept),
            "heldout": len(state.held),
            "in_window_training": state.in_window(),
            "complete": state.in_window() >= target,
            "in_window_per_hour": round(counts["in_window"] / work * 3600, 2) if work else None,
        },
    )
    run.finish(work_seconds=work)
    _log_funnel(funnel, len(state.kept), config.output)
    return EXIT_OK if state.in_window() else EXIT_FAILED

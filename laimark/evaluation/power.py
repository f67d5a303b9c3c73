"""laimark-eval --power: how big a difference an evaluation design can see, before running it.

From a base run's per-task pass rates (a sampled run is best: a greedy file gives rates of 0 or 1
only, which understates the sampling noise), by simulation (`paired.power`): for n samples per
task and k seeds per arm, the smallest mean pass-rate difference the sign-flip test (pooled over
seeds, alpha 0.05) detects with 80% power, and the samples per task that `--effect` needs.
Written as PREFIX.md and PREFIX.json with sidecars, and printed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from laimark.core.cli import EXIT_OK
from laimark.core.config import check
from laimark.core.records import RecordError
from laimark.core.runs import Run
from laimark.core.seeds import DEFAULT_SEED
from laimark.evaluation.compare import answers
from laimark.evaluation.paired import detectable_difference, power

SAMPLES = (1, 5, 10, 20)  # samples per task in the table (the base file's own n is added)
SEEDS = (1, 2, 3)
SAMPLES_SEARCH = (1, 2, 5, 10, 20, 50, 100)
TARGET, ALPHA = 0.8, 0.05


@dataclass(frozen=True)
class PowerConfig:
    """laimark-eval --power BASE_RESULTS [--effect D] [--simulations N] [--report PREFIX]."""

    power: str
    effect: float = 0.03
    simulations: int = 400
    report: str | None = None  # None: <BASE_RESULTS>.power
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        check(0 < self.effect < 1, "--effect must be in (0, 1)")
        check(self.simulations >= 20, "--simulations must be >= 20")


def power_report(config: PowerConfig) -> int:
    runs = answers(config.power)
    rates = [sum(p for p, _ in v) / len(v) for v in runs.values()]
    n_file = min(len(v) for v in runs.values())
    mean = sum(rates) / len(rates)
    if mean >= 1 - config.effect:
        raise RecordError(config.power, 0, None, f"pass@1 {mean:.3f} leaves no room for the effect")
    grid = sorted(set(SAMPLES) | {n_file})
    sims = config.simulations
    table, needed = {}, {}
    with tqdm(total=len(grid) * len(SEEDS) + len(SEEDS), desc="power", unit="setting") as bar:
        for n in grid:
            for k in SEEDS:
                found = detectable_difference(rates, n, k, TARGET, ALPHA, sims, config.seed)
                table[f"{n}x{k}"] = None if found is None else round(found, 4)
                bar.update()
        for k in SEEDS:
            needed[str(k)] = next(
                (
                    n
                    for n in SAMPLES_SEARCH
                    if power(rates, config.effect, n, k, ALPHA, sims, seed=config.seed) >= TARGET
                ),
                None,
            )
            bar.update()
    result = {
        "base": config.power,
        "tasks": len(rates),
        "samples_in_file": n_file,
        "base_pass@1": round(mean, 4),
        "power": TARGET,
        "alpha": ALPHA,
        "simulations": sims,
        "detectable_difference": table,
        "effect": config.effect,
        "samples_needed_for_effect": needed,
    }
    prefix = config.report or config.power + ".power"
    md = markdown(result, grid)
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    Path(prefix + ".md").write_text(md)
    Path(prefix + ".json").write_text(json.dumps(result, indent=1) + "\n")
    for out in (prefix + ".md", prefix + ".json"):
        run = Run("laimark-eval --power", out, config, overwrite=True)
        run.add_input(config.power)
        run.record(counts=result)
        run.finish()
    print(md)
    return EXIT_OK


def _cell(found: float | None, r: dict) -> str:
    """A detectable difference, or '>' the largest gain that fits when none is detected."""
    return f"{found:.3f}" if found is not None else f"> {1 - r['base_pass@1']:.3f}"


def markdown(r: dict, grid: list[int]) -> str:
    head = "| samples per task | " + " | ".join(f"{k} seed{'s' * (k > 1)}" for k in SEEDS) + " |"
    rows = [head, "|---" * (len(SEEDS) + 1) + "|"]
    for n in grid:
        cells = " | ".join(_cell(r["detectable_difference"][f"{n}x{k}"], r) for k in SEEDS)
        rows.append(f"| {n}{' (the file)' if n == r['samples_in_file'] else ''} | {cells} |")
    need = ", ".join(
        f"{k} seed{'s' * (int(k) > 1)}: {n if n is not None else f'more than {SAMPLES_SEARCH[-1]}'}"
        for k, n in r["samples_needed_for_effect"].items()
    )
    return "\n".join(
        [
            f"Power from `{r['base']}` ({r['tasks']} tasks, {r['samples_in_file']} samples per "
            f"task, pass@1 {r['base_pass@1']:.3f}): the smallest mean pass-rate difference the "
            f"paired sign-flip test (rates pooled over seeds, alpha {r['alpha']}) detects with "
            f"{r['power']:.0%} power, by {r['simulations']} simulated experiments per setting, "
            "both arms sampled binomially from the base rates raised in proportion to headroom:",
            "",
            *rows,
            "",
            f"Samples per task for a difference of {r['effect']:.3f}: {need}.",
            "",
        ]
    )

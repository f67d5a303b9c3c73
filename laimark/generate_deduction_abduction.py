"""laimark-derive: deduction and abduction items from a curriculum's verified code problems.

For each code problem with a reference solution, up to --max_per_problem of its test calls become
one deduction item (program + input -> predict the output) and one abduction item (program +
output -> find an input), in the original LAIMARK's record fields; every output comes from running
the reference in the sandbox, not from the asserts the model wrote. The original's script name
works too:

    laimark-derive --input data/calibrated_selfgen.jsonl --output runs/items.jsonl
    python -m laimark.generate_deduction_abduction --input calibrated.jsonl --output items.jsonl

Calibrate the items like any other problem (`laimark-calibrate --input runs/items.jsonl`), then
train on them with or beside the code problems. Writes `<output>.meta.json`. Exit status: 0 done,
1 no item derived, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # `python laimark/generate_deduction_abduction.py` uninstalled
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from laimark.core.cli import EXIT_FAILED, EXIT_OK, add_sandbox_args, run_stage, setup_logging
from laimark.core.config import check, nested
from laimark.core.records import Problem, load_records, write_jsonl_atomic
from laimark.core.runs import Run
from laimark.execution.sandbox import SandboxConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeriveConfig:
    """laimark-derive --input FILE --output FILE [--max_per_problem N]."""

    input: str = ""
    output: str = "runs/deduction_abduction.jsonl"
    max_per_problem: int = 3
    type_mix: str | None = None  # "code=0.4,deduction=0.3,abduction=0.3"; None: the items alone
    sandbox: SandboxConfig = nested(SandboxConfig)

    def __post_init__(self) -> None:
        check(bool(self.input), "--input is required")
        check(self.max_per_problem >= 1, "--max_per_problem must be >= 1")
        self.shares()  # a bad --type_mix is a usage error before any work

    def shares(self) -> dict[str, float] | None:
        """--type_mix as type -> share, or None."""
        if self.type_mix is None:
            return None
        out = {}
        for part in self.type_mix.split(","):
            name, _, value = part.partition("=")
            name = name.strip()
            check(name in TYPES, f"--type_mix: unknown type {name!r} (types: {', '.join(TYPES)})")
            try:
                out[name] = float(value)
            except ValueError:
                check(False, f"--type_mix: {part!r} is not TYPE=SHARE")
            check(out[name] >= 0, f"--type_mix: the share of {name} must be >= 0")
        check(abs(sum(out.values()) - 1) < 1e-6, "--type_mix: the shares must add up to 1")
        return out


TYPES = ("code", "deduction", "abduction")


def mix(pools: dict[str, list[Problem]], shares: dict[str, float]) -> list[Problem]:
    """As many records as the pools allow in the given shares: the type whose pool runs out
    first sets the total. Each pool keeps its own order (the input's), so the choice is the same
    every run; the records come out type by type, in TYPES order."""
    wanted = {k: v for k, v in shares.items() if v > 0}
    total = min(int(len(pools.get(k, [])) / v) for k, v in wanted.items()) if wanted else 0
    out = []
    for kind in TYPES:
        if kind in wanted:
            out += pools.get(kind, [])[: round(total * wanted[kind])]
    return out


def derive(config: DeriveConfig) -> int:
    from laimark.tasks.reasoning import derive_items

    records = load_records(config.input, Problem)
    code = [p for _, p in records if p.problem_type == "code"]
    # Derived from its input alone and quick to redo: a second run replaces the file.
    run = Run("laimark-derive", config.output, config, overwrite=True)
    run.add_input(config.input)
    with config.sandbox.open() as sandbox:
        items = derive_items(code, sandbox, config.max_per_problem)
        run.record(sandbox=sandbox.describe())
    counts = {"input": len(records), "code_problems": len(code), "items": len(items)}
    if (shares := config.shares()) is not None:
        pools = {"code": code}
        for i in items:
            pools.setdefault(i.problem_type, []).append(i)
        items = mix(pools, shares)
        counts["type_mix"] = shares
    write_jsonl_atomic(config.output, items)
    counts["written"] = len(items)
    counts.update(Counter(i.problem_type for i in items))
    run.record(counts=counts)
    run.finish()
    print(
        f"{counts['written']} records ({counts.get('code', 0)} code, "
        f"{counts.get('deduction', 0)} deduction, {counts.get('abduction', 0)} abduction) from "
        f"{len(code)} code problems: {config.output}"
    )
    return EXIT_OK if items else EXIT_FAILED


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="laimark-derive",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--input", required=True, help="curriculum JSONL (candidates or calibrated)")
    p.add_argument(
        "--output",
        default="runs/deduction_abduction.jsonl",
        help="items JSONL (default %(default)s)",
    )
    p.add_argument(
        "--max_per_problem",
        type=int,
        default=3,
        help="test calls used per problem, each giving one item of each type (default 3, the "
        "original's)",
    )
    p.add_argument(
        "--type_mix",
        metavar="TYPE=SHARE,...",
        help="write a curriculum of the input's code problems and the items in these shares, e.g. "
        "code=0.4,deduction=0.3,abduction=0.3 (as many records as the scarcest type allows); "
        "default: the items alone",
    )
    p.add_argument("--verbose", action="store_true")
    add_sandbox_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_stage(derive, DeriveConfig, args)


if __name__ == "__main__":
    sys.exit(main())

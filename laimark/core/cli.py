"""Small pieces every stage script shares: logging, exit codes, sandbox flags, safe printing."""

from __future__ import annotations

import argparse
import logging
import re
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# C0 and C1 control characters and DEL, except newline and tab; and the bidirectional overrides,
# which reorder what a terminal shows.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def printable(text: str) -> str:
    r"""`text` with control characters shown as escapes, for a terminal or a text report.

    Model-written text (a verdict's detail, an exception message) may hold ANSI sequences or
    carriage returns that would clear the screen or hide report lines. JSON output needs none
    of this: it escapes them itself.

    >>> printable("red \x1b[31m\r\tdone\n")
    'red \\x1b[31m\\r\tdone\n'
    """
    return _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)


def usage_error(message: str) -> int:
    """Print a bad-input message (no traceback) and return the usage exit code."""
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def add_sandbox_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sandbox")
    group.add_argument(
        "--sandbox",
        default="auto",
        choices=("auto", "bwrap", "process"),
        help="isolation level for model-written code (default auto: bwrap if it "
        "works here, else 'process' with a warning; see SECURITY.md)",
    )
    group.add_argument(
        "--workers",
        type=int,
        default=None,
        help="programs judged in parallel (default: number of CPU cores)",
    )
    group.add_argument(
        "--timeout", type=float, default=5.0, help="wall-clock seconds per program (default 5)"
    )
    group.add_argument(
        "--memory_mb",
        type=int,
        default=1024,
        help="address-space limit per program process in MiB (default 1024)",
    )


def make_sandbox(args: argparse.Namespace):
    """A Sandbox from the flags of `add_sandbox_args`."""
    import math

    from laimark.execution.sandbox import Limits, Sandbox

    limits = Limits(
        timeout=args.timeout, cpu_seconds=max(1, math.ceil(args.timeout)), memory_mb=args.memory_mb
    )
    return Sandbox(level=args.sandbox, workers=args.workers, limits=limits)

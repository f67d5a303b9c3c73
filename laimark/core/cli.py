"""Small pieces every command shares: logging, exit codes, errors, sandbox flags, safe printing."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Callable
from typing import Any

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


def run_stage(stage: Callable[[Any], int], config_cls: type, args: argparse.Namespace) -> int:
    """Build the stage's typed config from the flags, run the stage, return its exit code.

    The errors a person can fix become exit codes, never a traceback: bad settings, inputs,
    outputs or models (`ValueError` subclasses: ConfigError, RunError, RecordError, ModelError)
    are usage errors (2); a sandbox failure or an interruption is a failed run (1), whose
    outputs so far are kept for `--resume`.
    """
    from laimark.core.config import ConfigError, from_args
    from laimark.core.records import RecordError
    from laimark.core.runs import RunError
    from laimark.execution.sandbox import SandboxError
    from laimark.models.loading import ModelError

    log = logging.getLogger(__name__)
    try:
        return stage(from_args(config_cls, args))
    except (ConfigError, RunError, RecordError, ModelError) as e:
        return usage_error(str(e))
    except SandboxError as e:
        log.error("%s", e)
        return EXIT_FAILED
    except KeyboardInterrupt:
        log.error("interrupted; what was written so far is kept (rerun with --resume)")
        return EXIT_FAILED


def add_replaced_flags(parser: argparse.ArgumentParser, replaced: dict[str, str]) -> None:
    """Flags of the original LAIMARK that no longer mean anything here: using one is a usage
    error (exit 2) that says what to run instead, rather than argparse's "unrecognized"."""

    class Replaced(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            parser.error(
                f"{option_string} is a flag of the original LAIMARK's script; here: "
                f"{replaced[option_string]}"
            )

    g = parser.add_argument_group("the original's flags that moved (each says where)")
    for flag, message in replaced.items():
        g.add_argument(flag, nargs="*", action=Replaced, default=argparse.SUPPRESS, help=message)


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

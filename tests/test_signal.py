"""Learning-signal management: zero-signal groups leave the loss, problems retire and are
replaced, the tracker's state survives a checkpoint. The trainer pieces are exercised through
GRPOTrainer's own method names on a minimal base class, and end to end in test_train.py."""

import torch

from laimark.training.signal import (
    CurriculumSampler,
    SignalSettings,
    SignalTracker,
    SignalTrainerMixin,
    zero_signal_rows,
)


def constant(value):
    return lambda completions, **kw: [value] * len(completions)


def test_zero_signal_rows_are_whole_groups_with_zero_advantage():
    adv = torch.tensor([0.0, 0.0, 0.5, -0.5, 0.0, 0.0])
    assert zero_signal_rows(adv, 2).tolist() == [True, True, False, False, True, True]
    # a row at its group's mean inside a group with signal is kept
    assert zero_signal_rows(torch.tensor([0.0, 1.0, -1.0, 0.0]), 4).tolist() == [False] * 4


class _Accelerator:
    def gather(self, t):
        return t.reshape(1)


class _FakeGRPO:
    """What GRPOTrainer's `_generate_and_score_completions` returns, for two groups of two."""

    num_generations = 2
    accelerator = _Accelerator()

    def __init__(self):
        self.model = torch.nn.Linear(1, 1)
        self._metrics = {"train": {"dropped_zero_signal_frac": []}}

    def _generate_and_score_completions(self, inputs):
        return {
            "advantages": torch.tensor([0.0, 0.0, 0.7, -0.7]),
            "completion_mask": torch.ones(4, 3, dtype=torch.int64),
            "num_items_in_batch": torch.tensor(12),
        }


class _Trainer(SignalTrainerMixin, _FakeGRPO):
    pass


def test_groups_without_signal_leave_the_loss():
    trainer = _Trainer()
    trainer.signal = SignalSettings(SignalTracker(constant(1.0), 2), drop_zero_signal=True)
    out = trainer._generate_and_score_completions({})
    # TRL's loss sums (per-token loss x completion_mask) / num_items_in_batch: these rows add 0
    # to the sum and nothing to the count
    assert out["completion_mask"].sum(dim=1).tolist() == [0, 0, 3, 3]
    assert int(out["num_items_in_batch"]) == 6
    assert trainer.signal.tracker.dropped_rows == 2 and trainer._metrics["train"][
        "dropped_zero_signal_frac"
    ] == [0.5]


def test_without_the_setting_nothing_is_dropped():
    trainer = _Trainer()
    trainer.signal = SignalSettings(SignalTracker(constant(1.0), 2), drop_zero_signal=False)
    out = trainer._generate_and_score_completions({})
    assert int(out["completion_mask"].sum()) == 12 and int(out["num_items_in_batch"]) == 12


class _State:
    def __init__(self, step, epoch):
        self.global_step, self.epoch = step, epoch


def test_a_problem_that_always_passes_is_retired_from_the_next_epoch():
    tracker = SignalTracker(constant(1.0), 2, retire_after=4)
    tracker(["a", "b"], key=["p", "p"], trainer_state=_State(0, 0.2))
    assert tracker.retired == {}  # 2 rollouts: too few to decide
    tracker(["a", "b"], key=["p", "p"], trainer_state=_State(1, 0.6))
    assert tracker.retired == {"p": 1} and tracker.retired_by(0) == set()
    assert tracker.retired_by(1) == {"p"}


def test_a_problem_with_mixed_results_stays():
    rewards = iter([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    tracker = SignalTracker(lambda c, **kw: next(rewards), 2, retire_after=4)
    for step in range(3):
        tracker(["a", "b"], key=["p", "p"], trainer_state=_State(step, 0.1))
    assert tracker.retired == {} and tracker.running_pass_rates() == {"p": 4 / 6}


def test_the_calibration_window_can_be_the_retirement_rule():
    rewards = iter([[1.0, 1.0], [1.0, 0.0]])  # 3 of 4 pass: outside [0.2, 0.8)? no: 0.75 < 0.8
    tracker = SignalTracker(lambda c, **kw: next(rewards), 2, retire_after=4, window=(0.2, 0.7))
    for step in range(2):
        tracker(["a", "b"], key=["p", "p"], trainer_state=_State(step, 0.0))
    assert tracker.retired == {"p": 1}


def test_tracker_state_round_trips():
    tracker = SignalTracker(constant(0.0), 2, retire_after=2)
    tracker(["a", "b"], key=["p", "p"], trainer_state=_State(0, 0.0))
    again = SignalTracker(constant(0.0), 2, retire_after=2)
    again.load_state(__import__("json").loads(__import__("json").dumps(tracker.state())))
    assert again.retired == tracker.retired and again.outcomes == tracker.outcomes


def sampler(tracker, reserve=None, keys="abcd", batch_size=2):
    return CurriculumSampler(
        list(keys), tracker, reserve=reserve, mini_repeat_count=2, batch_size=batch_size, seed=3
    )


def test_sampler_repeats_each_prompt_g_times_like_trls():
    s = sampler(SignalTracker(constant(0.0), 2))
    rows = list(s)
    assert len(rows) == len(s) == 8
    assert rows[0::2] == rows[1::2] and sorted(set(rows)) == [0, 1, 2, 3]


def test_retired_problems_are_replaced_from_the_reserve_then_by_the_rest():
    tracker = SignalTracker(constant(0.0), 2)
    tracker.retired = {"a": 1}
    s = sampler(tracker, reserve=[False, False, False, True], keys="abcr", batch_size=1)
    assert sorted(s.rows_for(0)) == [0, 1, 2]  # reserve held back, "a" still in play
    assert sorted(s.rows_for(1)) == [1, 2, 3]  # "a" out, the reserve row in
    tracker.retired = {"a": 1, "r": 1}
    rows = s.rows_for(1)
    assert len(rows) == 3 and set(rows) == {1, 2}  # no reserve left: the others fill the epoch
    assert s.rows_for(1) == rows  # the same epoch draws the same order (resume replays it)


def test_when_every_problem_is_retired_training_uses_them_all_again(caplog):
    tracker = SignalTracker(constant(0.0), 2)
    tracker.retired = {k: 0 for k in "abcd"}
    assert sorted(sampler(tracker).rows_for(0)) == [0, 1, 2, 3]
    assert "every problem has been retired" in caplog.text


def test_a_constant_group_with_rounding_noise_is_still_without_signal():
    # TRL's (r - mean) / (std + 1e-4) for three equal rewards of 1/3 in fp32
    r = torch.tensor([1 / 3] * 3 + [0.0, 1.0, 1.0], dtype=torch.float32).view(2, 3)
    adv = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)).view(-1)
    assert zero_signal_rows(adv, 3).tolist() == [True] * 3 + [False] * 3

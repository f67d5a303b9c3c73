"""Learning-signal management for GRPO, on TRL's extension points (no fork of the trainer).

A group of G completions whose rewards are all equal has zero advantage: it teaches nothing, yet
with the losses TRL normalises by the batch's token count (dapo, the default, bnpo, cispo) its
tokens still count in the denominator and shrink every other group's update. (With grpo, dr_grpo
and sapo, whose denominators do not depend on the mask, dropping changes nothing at beta 0.) TRL has no dynamic sampling (its issue
#3708); verl (`filter_groups`), OpenRLHF (`--dynamic_filtering`) and prime-rl drop such groups.
Three pieces, each usable from anyone's TRL script:

* `SignalTracker` wraps a reward function (what `GRPOTrainer(reward_funcs=...)` takes): per call
  it logs the reward spread of each group and the share of groups without signal, and keeps
  every problem's running pass rate; a problem whose last `retire_after` rollouts all passed or
  all failed (by default) has left the learnability window and is marked retired.
* `SignalTrainerMixin`, mixed into `GRPOTrainer` (`signal_trainer_class(GRPOTrainer)`): drops the
  rows of groups without signal from the loss (their completion mask is zeroed and the token
  count recomputed, so the loss sees none of them), and draws prompts through
  `CurriculumSampler`, which skips retired problems from the next epoch on and puts problems from
  a calibrated reserve in their place.
* `signal_state_callback(tracker)` saves the tracker's state into every checkpoint; before
  resuming from one, `tracker.load_state(json.load(open(f"{checkpoint}/{STATE_FILE}")))`, so
  that a resumed run retires the same problems at the same epochs.

    tracker = SignalTracker(my_reward, group_size=8, retire_after=16)
    Trainer = signal_trainer_class(GRPOTrainer)
    trainer = Trainer(..., reward_funcs=tracker, callbacks=[signal_state_callback(tracker)])
    trainer.signal = SignalSettings(tracker, drop_zero_signal=True, key_column="key")
    trainer.train()

The dataset needs a column naming each problem (`key_column`) for retirement; rows whose
`reserve` column is True are held back until a problem retires.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from laimark.training.rewards import zero_signal_fraction

log = logging.getLogger(__name__)

STATE_FILE = "laimark_signal.json"


class SignalTracker:
    """Wrap a reward: log group spreads, keep per-problem pass rates, decide retirements.

    Args:
        fn: the reward, `(completions, **columns) -> list[float | None]`. If it has an attribute
            `last_passed` (a list of bools, set on each call), pass rates use it; otherwise a
            reward of 1.0 counts as a pass.
        group_size: GRPO's `num_generations`.
        key_column: the dataset column that names a problem (copies of a problem share it).
        retire_after: rollouts of a problem that must all agree before it is retired (0: never).
        window: (lo, hi): a problem is retired when its pass rate over its last `retire_after`
            rollouts is <= lo or >= hi. The default (0, 1) retires only problems that always pass
            or always fail; (0.2, 0.8) applies the calibration window itself.
    """

    def __init__(
        self,
        fn: Callable,
        group_size: int,
        *,
        key_column: str = "key",
        retire_after: int = 0,
        window: tuple[float, float] = (0.0, 1.0),
    ):
        self.fn, self.group_size, self.key_column = fn, group_size, key_column
        self.retire_after, self.window = retire_after, window
        self.__name__ = getattr(fn, "__name__", "reward")
        self.history: list[dict] = []
        self.outcomes: dict[str, list[int]] = {}  # problem key -> 1/0 per rollout, in order
        self.retired: dict[str, int] = {}  # problem key -> first epoch without it
        self.dropped_rows = self.seen_rows = 0  # counted by SignalTrainerMixin

    def __call__(self, completions, **columns) -> list[float | None]:
        began = time.perf_counter()
        rewards = self.fn(completions, **columns)
        seconds = time.perf_counter() - began
        passed = getattr(self.fn, "last_passed", None) or [r == 1.0 for r in rewards]
        state = columns.get("trainer_state")
        step = getattr(state, "global_step", len(self.history)) + 1
        epoch = math.floor(getattr(state, "epoch", 0.0) or 0.0)
        groups = [rewards[k : k + self.group_size] for k in range(0, len(rewards), self.group_size)]
        spreads = [_std([r for r in g if r is not None]) for g in groups]
        frac = zero_signal_fraction(rewards, self.group_size)
        keys = columns.get(self.key_column) or [None] * len(rewards)
        for key, ok in zip(keys, passed, strict=True):
            if key is not None:
                self.outcomes.setdefault(key, []).append(int(bool(ok)))
        newly = self._retire(keys, epoch + 1)
        known = [r for r in rewards if r is not None]
        entry = {
            "step": step,
            "zero_signal_frac": frac,
            "reward_mean": sum(known) / len(known) if known else None,
            "groups": len(groups),
            "group_spread_mean": sum(spreads) / len(spreads) if spreads else 0.0,
            "pass_rate": sum(map(bool, passed)) / len(passed) if passed else None,
            "retired": newly,
            "reward_seconds": round(seconds, 3),
        }
        self.history.append(entry)
        metric = columns.get("log_metric")
        if callable(metric):
            metric("zero_signal_frac", frac)
            metric("group_spread_mean", entry["group_spread_mean"])
            metric("retired_problems", float(len(self.retired)))
            metric("reward_seconds", seconds)
        log.info(
            "step %d: reward mean %s, %.0f%% of %d groups without signal%s",
            step,
            "n/a" if entry["reward_mean"] is None else f"{entry['reward_mean']:.3f}",
            100 * frac,
            len(groups),
            f"; retired {len(newly)} problem(s) from epoch {epoch + 1}" if newly else "",
        )
        return rewards

    def _retire(self, keys: Sequence, effective_epoch: int) -> list[str]:
        if self.retire_after <= 0:
            return []
        lo, hi = self.window
        newly = []
        for key in dict.fromkeys(k for k in keys if k is not None):
            recent = self.outcomes[key][-self.retire_after :]
            if key in self.retired or len(recent) < self.retire_after:
                continue
            rate = sum(recent) / len(recent)
            if rate <= lo or rate >= hi:
                self.retired[key] = effective_epoch
                newly.append(key)
        return newly

    def retired_by(self, epoch: int) -> set[str]:
        """Problems retired for `epoch` (decided during an earlier epoch)."""
        return {k for k, e in self.retired.items() if e <= epoch}

    def running_pass_rates(self) -> dict[str, float]:
        return {k: sum(v) / len(v) for k, v in self.outcomes.items() if v}

    # ------------------------------------------------------------ checkpoint state
    def state(self) -> dict:
        return {
            "outcomes": self.outcomes,
            "retired": self.retired,
            "history": self.history,
            "rows": [self.dropped_rows, self.seen_rows],
        }

    def load_state(self, state: dict) -> None:
        self.outcomes = {k: list(v) for k, v in state.get("outcomes", {}).items()}
        self.retired = {k: int(v) for k, v in state.get("retired", {}).items()}
        self.history = list(state.get("history", []))
        self.dropped_rows, self.seen_rows = state.get("rows", [0, 0])


def _std(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5


# TRL computes (r - mean) / (std + 1e-4) in fp32: for equal rewards that are not exact binary
# fractions (k/3, k/5 ...) the mean may be one ulp off, giving advantages near 1e-4 rather than 0.
# A group with signal has advantages far above this (at least the smallest reward difference).
ZERO_ADVANTAGE = 1e-3


def zero_signal_rows(advantages, group_size: int):
    """A bool tensor: rows of `advantages` that belong to a group whose advantages are all zero
    (within `ZERO_ADVANTAGE`), i.e. whose rewards were all equal.

    When the rows do not split into whole groups (a group spread over several processes), each
    row stands alone: a zero advantage adds nothing to the policy gradient.
    """
    zero = advantages.abs() <= ZERO_ADVANTAGE
    if zero.numel() == 0 or zero.numel() % group_size:
        return zero
    whole = zero.view(-1, group_size).all(dim=1, keepdim=True)
    return whole.expand(-1, group_size).reshape(-1)


@dataclass
class SignalSettings:
    """What `SignalTrainerMixin` does: set as `trainer.signal` before training starts."""

    tracker: SignalTracker
    drop_zero_signal: bool = True
    key_column: str = "key"
    reserve_column: str = "reserve"  # rows with True are held back until a problem retires


class SignalTrainerMixin:
    """Mix into GRPOTrainer (before it in the bases): drop zero-signal groups, retire problems.

    It overrides three of GRPOTrainer's methods and calls the originals: `_generate_and_score_
    completions` (after the advantages are computed, before the loss), `_get_train_sampler`, and
    `_generate` (only timed, for the step breakdown in train_log.jsonl).
    """

    signal: SignalSettings | None = None

    def _generate_and_score_completions(self, inputs):
        training = self.model.training  # TRL reads the mode the same way, before generating
        output = super()._generate_and_score_completions(inputs)
        settings = self.signal
        if settings is None or not settings.drop_zero_signal or not training:
            return output
        drop = zero_signal_rows(output["advantages"], self.num_generations)
        settings.tracker.seen_rows += drop.numel()
        settings.tracker.dropped_rows += int(drop.sum())
        keep = (~drop).unsqueeze(1).to(output["completion_mask"].dtype)
        mask = output["completion_mask"] = output["completion_mask"] * keep
        if output.get("tool_mask") is not None:
            mask = mask * output["tool_mask"]
        # Every process gathers, whether it dropped rows or not (a collective call).
        output["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum()
        self._metrics["train"]["dropped_zero_signal_frac"].append(
            float(drop.float().mean()) if drop.numel() else 0.0
        )
        return output

    def _generate(self, prompts):
        # Timed for the step's breakdown (generation / reward / the rest: log-probs, backward).
        began = time.perf_counter()
        out = super()._generate(prompts)
        self._metrics["train" if self.model.training else "eval"]["generate_seconds"].append(
            time.perf_counter() - began
        )
        return out

    def _get_train_sampler(self, dataset=None):
        base = super()._get_train_sampler(dataset)
        settings = self.signal
        dataset = dataset if dataset is not None else self.train_dataset
        if settings is None or settings.key_column not in dataset.column_names:
            return base
        return CurriculumSampler(
            keys=list(dataset[settings.key_column]),
            reserve=list(dataset[settings.reserve_column])
            if settings.reserve_column in dataset.column_names
            else None,
            tracker=settings.tracker,
            mini_repeat_count=base.mini_repeat_count,
            batch_size=base.batch_size,
            repeat_count=base.repeat_count,
            shuffle=base.shuffle,
            seed=base.seed,
        )


def signal_trainer_class(base: type) -> type:
    """`base` (GRPOTrainer or a subclass) with `SignalTrainerMixin` mixed in."""
    return type(f"Signal{base.__name__}", (SignalTrainerMixin, base), {})


class CurriculumSampler:
    """TRL's RepeatSampler ordering (each prompt `mini_repeat_count` times in a row, chunks of
    `batch_size` prompts repeated `repeat_count` times), over the problems still in play.

    Epoch e shuffles the active rows with seed (seed, e). A row whose key the tracker retired for
    epoch e is replaced by the next unused reserve row; when the reserve is empty the remaining
    active rows fill its place, so an epoch has the same length as the first (the trainer counts
    steps from it). If every problem is retired, the full initial set is used again (with a
    warning): training never starves.
    """

    def __init__(
        self,
        keys: Sequence[str],
        tracker: SignalTracker,
        *,
        reserve: Sequence[bool] | None = None,
        mini_repeat_count: int,
        batch_size: int,
        repeat_count: int = 1,
        shuffle: bool = True,
        seed: int = 0,
    ):
        self.keys, self.tracker = list(keys), tracker
        reserve = list(reserve) if reserve is not None else [False] * len(self.keys)
        self.active = [i for i, r in enumerate(reserve) if not r]
        self.reserve = [i for i, r in enumerate(reserve) if r]
        random.Random(seed).shuffle(self.reserve)
        self.mini_repeat_count, self.batch_size = mini_repeat_count, batch_size
        self.repeat_count, self.shuffle, self.seed = repeat_count, shuffle, seed
        self.epoch = 0
        self.num_rows = (len(self.active) // batch_size) * batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def rows_for(self, epoch: int) -> list[int]:
        """The rows epoch `epoch` draws from, in the order they are drawn."""
        gone = self.tracker.retired_by(epoch)
        rows = [i for i in self.active if self.keys[i] not in gone]
        spare = (i for i in self.reserve if self.keys[i] not in gone)
        for _ in range(len(self.active) - len(rows)):
            nxt = next(spare, None)
            if nxt is None:
                break
            rows.append(nxt)
        if not rows:
            log.warning("every problem has been retired: epoch %d uses the whole curriculum", epoch)
            rows = list(self.active)
        if self.shuffle:
            random.Random(f"{self.seed}:{epoch}").shuffle(rows)
        while len(rows) < self.num_rows:  # fewer problems left: repeat them to fill the epoch
            rows += rows[: self.num_rows - len(rows)]
        return rows[: self.num_rows]

    def __iter__(self):
        rows = self.rows_for(self.epoch)
        self.epoch += 1  # in case the trainer does not call set_epoch
        for k in range(0, len(rows), self.batch_size):
            chunk = rows[k : k + self.batch_size]
            for _ in range(self.repeat_count):
                for index in chunk:
                    for _ in range(self.mini_repeat_count):
                        yield index

    def __len__(self) -> int:
        return self.num_rows * self.mini_repeat_count * self.repeat_count


def signal_state_callback(tracker: SignalTracker):
    """A TrainerCallback that writes the tracker's state into each checkpoint folder (read back
    with `tracker.load_state` before resuming from that checkpoint)."""
    from transformers import TrainerCallback

    class SignalStateCallback(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                (folder / STATE_FILE).write_text(json.dumps(tracker.state()))

    return SignalStateCallback()

"""Learning-rate schedules the methods use, with state for --restart.

Each schedule sets the learning rate of every parameter group as ``base_lr x factor``:
``start_epoch(epoch)`` before an epoch, ``after_step()`` after each optimiser step (per-step
schedules), ``end_epoch(loss)`` after it (plateau schedules).
"""

import math
from collections.abc import Iterable, Sequence

from torch.optim import Optimizer


class Schedule:
    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.factor = 1.0

    def _apply(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * self.factor

    def start_epoch(self, epoch: int) -> None:
        self._apply()

    def after_step(self) -> None:
        pass

    def end_epoch(self, loss: float) -> None:
        pass

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)
        self._apply()


class WarmupPlateau(Schedule):
    """TCLR: warm-up factors per epoch (x0.01, 0.05, 0.1, 0.5, 1), then the learning rate is
    multiplied by ``factor`` after ``patience`` epochs without a new best training loss: in a row
    (``in_a_row``, TCLR's pretraining), or in all since the last drop (TCLR's linear evaluation,
    whose count a new best does not reset)."""

    def __init__(
        self,
        optimizer: Optimizer,
        warmup: Sequence[float] = (0.01, 0.05, 0.1, 0.5, 1.0),
        patience: int = 9,
        factor: float = 0.1,
        in_a_row: bool = True,
    ) -> None:
        super().__init__(optimizer)
        self.warmup, self.patience, self.decay, self.in_a_row = list(warmup), patience, factor, in_a_row
        self.best, self.bad_epochs, self.plateau_factor = math.inf, 0, 1.0

    def start_epoch(self, epoch: int) -> None:
        self.factor = (self.warmup[epoch] if epoch < len(self.warmup) else 1.0) * self.plateau_factor
        self._apply()

    def end_epoch(self, loss: float) -> None:
        if loss <= self.best:  # an equal loss neither counts nor resets (both releases)
            if loss < self.best and self.in_a_row:
                self.bad_epochs = 0
            self.best = loss
            return
        self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            self.plateau_factor *= self.decay
            self.bad_epochs = 0


class WarmupCosine(Schedule):
    """CVRL (Model Garden's schedules): a cosine over all ``total_epochs`` from step 0, with a linear
    warm-up from 0 over the first ``warmup_epochs`` that ends at the cosine's value there (the
    warm-up hands over at the global step, so the peak itself is never reached); per step.
    Model Garden: official/modeling/optimization/lr_schedule.py, LinearWarmup (the warm-up's end
    value is the wrapped schedule at warmup_steps) and CosineDecayWithOffset (offset 0), at
    tensorflow/models 00b830c7; warmup_learning_rate defaults to 0 (configs/learning_rate_config.py)."""

    def __init__(self, optimizer: Optimizer, warmup_epochs: int, total_epochs: int, steps_per_epoch: int) -> None:
        super().__init__(optimizer)
        self.warmup_steps = warmup_epochs * steps_per_epoch
        self.total_steps = max(1, total_epochs * steps_per_epoch)
        self.step = 0
        self._set()

    def cosine(self, step: int) -> float:
        return 0.5 * (1 + math.cos(math.pi * min(step, self.total_steps) / self.total_steps))

    def _set(self) -> None:
        if self.step < self.warmup_steps:
            self.factor = self.step / self.warmup_steps * self.cosine(self.warmup_steps)
        else:
            self.factor = self.cosine(self.step)
        self._apply()

    def start_epoch(self, epoch: int) -> None:
        self._set()

    def after_step(self) -> None:
        self.step += 1
        self._set()


class MultiStep(Schedule):
    """VTDL, TCE, finetuning: multiply by ``gamma`` at each milestone epoch (optional warm-up)."""

    def __init__(
        self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1, warmup: Sequence[float] = ()
    ) -> None:
        super().__init__(optimizer)
        self.milestones, self.gamma, self.warmup = sorted(milestones), gamma, list(warmup)

    def start_epoch(self, epoch: int) -> None:
        self.factor = self.gamma ** sum(epoch >= m for m in self.milestones)
        if epoch < len(self.warmup):
            self.factor *= self.warmup[epoch]
        self._apply()


class WarmupMultiStep(Schedule):
    """SlowFast's ``steps_with_relative_lrs`` with its linear warm-up (SEVERE's Charades), every
    step at the fractional epoch ``t = step / steps_per_epoch``: the factor is ``gamma`` to the
    number of milestones ``<= t``; before ``warmup_epochs`` it is the straight line from
    ``start_factor`` at t = 0 to the schedule's factor at the warm-up's end
    (slowfast/utils/lr_policy.py, get_lr_at_epoch)."""

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float,
        warmup_epochs: float,
        start_factor: float,
        steps_per_epoch: int,
    ) -> None:
        super().__init__(optimizer)
        self.milestones, self.gamma = sorted(milestones), gamma
        self.warmup_epochs, self.start_factor = warmup_epochs, start_factor
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.step = 0
        self._set()

    def factor_at(self, t: float) -> float:
        stepped = self.gamma ** sum(t >= m for m in self.milestones)
        if t >= self.warmup_epochs:
            return stepped
        end = self.gamma ** sum(self.warmup_epochs >= m for m in self.milestones)
        return self.start_factor + (end - self.start_factor) * t / self.warmup_epochs

    def _set(self) -> None:
        self.factor = self.factor_at(self.step / self.steps_per_epoch)
        self._apply()

    def start_epoch(self, epoch: int) -> None:
        self.step = max(self.step, epoch * self.steps_per_epoch)  # a resumed run's epoch boundary
        self._set()

    def after_step(self) -> None:
        self.step += 1
        self._set()

"""Preemption: SIGTERM (what SLURM sends before it preempts or cancels a job) and SIGUSR1 (what it
can send ahead of the time limit, ``#SBATCH --signal=USR1@120``) make a run finish its current
step, save a checkpoint of that step and exit with ``PREEMPTED_EXIT`` (the SLURM template requeues
on it); ``--restart`` continues from that step.
"""

import signal
import threading

from torch.utils.data import DistributedSampler

from videossl.errors import UserError

PREEMPTED_EXIT = 75  # EX_TEMPFAIL: a temporary failure, to be retried
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class Preempted(UserError):
    """The run saved its current step and stopped on a signal; ``--restart`` continues."""

    exit_code = PREEMPTED_EXIT
    prefix = "stopped"


class StopRequest:
    """Remembers the first stop signal; the training loop asks ``requested`` after every step."""

    def __init__(self) -> None:
        self.signal = None
        self._previous = {}
        if threading.current_thread() is threading.main_thread():  # handlers live in the main thread
            self._previous = {number: signal.signal(number, self._handle) for number in SIGNALS}

    def restore(self) -> None:
        """Give the signals back to the handlers they had (the run is over)."""
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}

    def _handle(self, number, frame) -> None:
        self.signal = self.signal or signal.Signals(number).name

    @property
    def requested(self) -> bool:
        return self.signal is not None


class ResumableSampler(DistributedSampler):
    """A DistributedSampler whose next epoch can start after its first ``skip`` samples (a run
    resumed mid-epoch sees the rest of the same order)."""

    skip = 0

    def __iter__(self):
        return iter(list(super().__iter__())[self.skip :])

    def __len__(self) -> int:
        return super().__len__() - self.skip

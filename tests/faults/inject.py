"""Run a repository entry script with one fault injected, as the fault tests need it:

    python -m tests.faults.inject [--kill_during_save N] [--fail_save N --errno ENOSPC]
                                  [--nan_from_step K] SCRIPT [script arguments ...]

``--kill_during_save N``: the N-th checkpoint write stops halfway (half the bytes on disk) and
the process kills itself with SIGKILL, as a job killed by a scheduler or the OOM killer would.
``--fail_save N``: the N-th checkpoint write fails halfway with ``OSError(errno)`` (a full disk,
a permission change). ``--nan_from_step K``: the loss is NaN from training step K (counted from
1) on. The script itself runs unchanged, as ``python SCRIPT ...`` would run it.
"""

import argparse
import errno
import io
import os
import runpy
import signal
import sys


def patch_checkpoint_writes(nth, on_write):
    """Call ``on_write(file, data)`` with the serialised bytes of the ``nth`` checkpoint write."""
    import torch

    from videossl.models import checkpoint

    real_save = torch.save
    count = [0]

    def save(obj, f, *args, **kwargs):
        if not (isinstance(obj, dict) and obj.get("format") == checkpoint.FORMAT):
            return real_save(obj, f, *args, **kwargs)
        count[0] += 1
        if count[0] != nth:
            return real_save(obj, f, *args, **kwargs)
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        on_write(f, buffer.getvalue())

    torch.save = save


def write_half_then(action):
    def on_write(f, data):
        f.write(data[: len(data) // 2])
        f.flush()
        os.fsync(f.fileno())
        action()

    return on_write


def patch_nan_loss(first_step):
    """The loss of every training step from ``first_step`` on is NaN (not the precision check's)."""
    from videossl.engine.method import Method

    real_forward = Method.forward

    def forward(self, batch, update_state=True):
        loss, terms = real_forward(self, batch, update_state)
        return (loss * float("nan") if update_state and self.step + 1 >= first_step else loss), terms

    Method.forward = forward


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kill_during_save", type=int, default=0)
    parser.add_argument("--fail_save", type=int, default=0)
    parser.add_argument("--errno", default="ENOSPC", choices=("ENOSPC", "EACCES", "EIO"))
    parser.add_argument("--nan_from_step", type=int, default=0)
    parser.add_argument("script")
    parser.add_argument("script_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.kill_during_save:
        patch_checkpoint_writes(args.kill_during_save, write_half_then(lambda: os.kill(os.getpid(), signal.SIGKILL)))
    if args.fail_save:
        code = getattr(errno, args.errno)

        def fail():
            raise OSError(code, os.strerror(code))

        patch_checkpoint_writes(args.fail_save, write_half_then(fail))
    if args.nan_from_step:
        patch_nan_loss(args.nan_from_step)
    sys.argv = [args.script, *args.script_args]
    runpy.run_path(args.script, run_name="__main__")


if __name__ == "__main__":
    main()

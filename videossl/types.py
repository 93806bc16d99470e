"""Type aliases shared by the public functions of ``videossl``."""

from typing import Callable, Union

import torch

Device = Union[str, torch.device]
Log = Callable[[str], None]  # where a function reports a line: print, TrainingRun.log, a list's append

"""A stand-in for a GPU in tests: the model and batch on PyTorch's ``meta`` device, and every op
checked for tensors or generators of another device.

On a CUDA device a CPU tensor made inside a loss, sampler, memory bank or queue fails (or silently
moves data every step); on the CPU, where the tests run, it cannot be told apart. Under
``only_on("meta")`` a tensor that an op makes from no host tensor (a factory, a random draw, a
Python list) must be on ``meta`` (0-dim CPU tensors excepted: CUDA kernels take CPU scalars), and
no op may take a generator of another device. Pieces of host tensors given to the step (the
batch, before the input contract moves it) are not new tensors and pass. ``meta`` tensors have
no data, so reading one on the host (``item``, ``int()``, ``float()``, ``bool()``, ``tolist``)
returns a placeholder: 1 (a finite, positive value, which takes the usual branch).
"""

import torch
from torch.overrides import TorchFunctionMode

HOST_READS = {
    torch.Tensor.item,
    torch.Tensor.__int__,
    torch.Tensor.__float__,
    torch.Tensor.__bool__,
    torch.Tensor.__index__,
    torch.Tensor.tolist,
}


class WrongDevice(AssertionError):
    pass


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


def _placeholder(func, tensor):
    one = torch.ones(tensor.shape, dtype=tensor.dtype)  # on the CPU, outside the mode
    if func is torch.Tensor.tolist:
        return one.tolist()
    if func is torch.Tensor.__bool__:
        return True
    return one.reshape(-1)[0].item() if func is torch.Tensor.item else func(one.reshape(-1)[0])


class only_on(TorchFunctionMode):
    def __init__(self, device: str = "meta") -> None:
        super().__init__()
        self.device = torch.device(device).type

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        generator = kwargs.get("generator")
        if generator is not None and generator.device.type != self.device:
            raise WrongDevice(f"{func.__name__} draws from a {generator.device.type} generator")
        if func in HOST_READS and args and isinstance(args[0], torch.Tensor) and args[0].device.type == "meta":
            return _placeholder(func, args[0])
        out = func(*args, **kwargs)
        if any(t.device.type != self.device for t in _tensors((args, kwargs))):
            return out  # a view or piece of a host tensor given to the step (the batch), not a new one
        for tensor in _tensors(out):
            if tensor.device.type != self.device and tensor.dim() > 0:
                raise WrongDevice(
                    f"{getattr(func, '__name__', func)} made a {tuple(tensor.shape)} tensor on {tensor.device}"
                )
        return out

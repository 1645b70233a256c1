"""Where one step's time goes: torch.profiler's operator self times, summed by kind of work.

Kinds: convolution (forward and backward), batch norm (forward, backward and the fused weighted sum of
stretchnas.kernels.normalized_mix), pooling, elementwise (ReLU, the weighted sums' multiplies and adds, copies and
fills: memory-bound passes over activations), and other operators (views, reductions, the optimiser's
updates, allocation). What the profiler attributes to no operator (Python, autograd's engine) is the step's
wall time less the operators' self time, reported as `unattributed`.

Kernel calls are the operators dispatched below autograd, counted by a TorchDispatchMode: every call the
step pays dispatch overhead for, views and detaches (kind `other`) included.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from torch.utils._python_dispatch import TorchDispatchMode

KINDS = ("convolution", "batch_norm", "pooling", "elementwise", "other")

_CONVOLUTION = ("conv",)  # aten's convolutions and autograd nodes such as ConvolutionBackward0, _DepthwiseConv
_BATCH_NORM = ("batch_norm", "normalizedmix")
_POOLING = ("pool",)
_ELEMENTWISE = {
    "mul",
    "mul_",
    "add",
    "add_",
    "sub",
    "sub_",
    "div",
    "div_",
    "relu",
    "relu_",
    "clamp_min",
    "clamp_min_",
    "threshold_backward",
    "copy_",
    "fill_",
    "zero_",
    "zeros_like",
    "where",
    "neg",
    "addcmul_",
    "addcdiv_",
    "lerp_",
    "cat",
    "flip",
    "clone",
    "contiguous",
}


def kind_of(name: str) -> str:
    """The kind of work of an operator (`aten::mul`, `aten.mul.Tensor` or an autograd function's name)."""
    base = name.removeprefix("aten::").removeprefix("aten.").split(".")[0]
    lower = base.lower()
    if any(part in lower for part in _CONVOLUTION):
        return "convolution"
    if any(part in lower for part in _BATCH_NORM):
        return "batch_norm"
    if any(part in lower for part in _POOLING):
        return "pooling"
    if base in _ELEMENTWISE:
        return "elementwise"
    return "other"


class KernelCounter(TorchDispatchMode):
    """Counts the operators dispatched below autograd, by kind."""

    def __init__(self):
        super().__init__()
        self.calls: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls[kind_of(func.__name__)] += 1
        return func(*args, **(kwargs or {}))


def count_kernels(step: Callable[[], object]) -> dict[str, int]:
    """Kernel calls of one call of `step`, by kind, and their total."""
    with KernelCounter() as counter:
        step()
    return {**{kind: counter.calls[kind] for kind in KINDS}, "total": sum(counter.calls.values())}


def time_shares(step: Callable[[], object]) -> dict[str, float]:
    """Share of one profiled call of `step`'s wall time per kind of operator, and `unattributed`."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        step()
        wall_us = (time.perf_counter() - start) * 1e6
    self_us = Counter()
    for event in prof.key_averages():
        self_us[kind_of(event.key)] += event.self_cpu_time_total
    shares = {kind: round(self_us[kind] / wall_us, 3) for kind in KINDS}
    shares["unattributed"] = round(max(0.0, 1 - sum(self_us.values()) / wall_us), 3)
    return shares

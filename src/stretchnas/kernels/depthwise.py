"""Depthwise convolution whose input gradient is a forward convolution: the same mathematics, faster on CPU.

oneDNN runs a dilated depthwise convolution's forward pass with a fast kernel, but its backward-data pass
with a much slower one (on the benchmark machine 4 to 10 times the forward's time at C=16, batch 64). The
gradient with respect to the input of a depthwise correlation is itself a depthwise correlation of the
output gradient with the spatially flipped kernel, padded by dilation * (kernel - 1) - padding; with
stride s > 1, of the output gradient spread onto a zero grid s times finer. `DepthwiseConv2d` computes it
that way where that was measured faster (`covered`), and leaves the weight gradient to torch's own backward.

It is an nn.Conv2d (same parameters, names and state dict), so weights map one to one onto DARTS's
modules. Outside CPU, in a graph that is differentiated twice (`stretchnas.kernels.switch.plain_kernels`, whose backward
here is once-differentiable), and for shapes it does not cover, it is nn.Conv2d's forward.
tests/test_depthwise.py compares values and both gradients with nn.Conv2d.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from stretchnas.kernels.switch import plain_kernels_requested


class _DepthwiseConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, stride: int, padding: int, dilation: int):
        ctx.geometry = stride, padding, dilation
        ctx.save_for_backward(x, weight)
        return F.conv2d(x, weight, None, stride, padding, dilation, x.shape[1])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, padding, dilation = ctx.geometry
        grad_x = grad_w = None
        if _engine_needs(ctx, 0):
            grad_x = _input_grad(grad, x, weight, stride, padding, dilation)
        if _engine_needs(ctx, 1):
            grad_w = torch.nn.grad.conv2d_weight(x, weight.shape, grad, stride, padding, dilation, x.shape[1])
        return grad_x, grad_w, None, None, None


def _engine_needs(ctx, index: int) -> bool:
    """Whether this backward pass uses input `index`'s gradient. `needs_input_grad` only says whether it
    requires grad; a pass for the architecture parameters alone (torch.autograd.grad with alpha as inputs)
    must not pay for the weight gradient, which torch's own convolution backward would skip too."""
    if not ctx.needs_input_grad[index]:
        return False
    node = ctx.next_functions[index][0]
    if node is None:
        return False
    try:
        return torch._C._will_engine_execute_node(node)
    except RuntimeError:  # raised for a leaf that is itself an input of torch.autograd.grad: needed
        return True


def _input_grad(grad, x, weight, stride: int, padding: int, dilation: int) -> torch.Tensor:
    channels, kernel = x.shape[1], weight.shape[-1]
    if stride > 1:
        # output pixel (h, w) was read from padded-input pixel (s*h, s*w): spread the gradient onto that grid,
        # H + 2p - d(k-1) rows (the span of the kernel's top-left corner), zeros between
        size = [n + 2 * padding - dilation * (kernel - 1) for n in x.shape[2:]]
        spread = grad.new_zeros(grad.shape[0], channels, *size).contiguous(memory_format=_memory_format(grad))
        spread[:, :, ::stride, ::stride] = grad
        grad = spread
    return F.conv2d(grad, weight.flip(2, 3), None, 1, dilation * (kernel - 1) - padding, dilation, channels)


def _memory_format(t: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if t.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format


# Below this many input elements the custom function's own per-call cost outweighs the faster kernel
# (measured per convolution, forward and input gradient, one and two threads; see benchmarks/README.md).
MIN_ELEMENTS = 32768


def covered(x: torch.Tensor, stride: int, padding: int, dilation: int, kernel: int) -> bool:
    """Whether to compute the input gradient as a forward convolution: where it was measured faster (a dilated
    kernel, stride 1 or 2, at least MIN_ELEMENTS input elements, on CPU), in a graph differentiated once, with
    padding at most the kernel's span. Undilated kernels were not reliably faster and keep torch's backward."""
    return (
        x.device.type == "cpu"
        and torch.is_grad_enabled()
        and not plain_kernels_requested()
        and dilation > 1
        and stride in (1, 2)
        and padding <= dilation * (kernel - 1)
        and x.numel() >= MIN_ELEMENTS
    )


def depthwise_conv2d(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int, dilation: int) -> torch.Tensor:
    """F.conv2d(x, weight, None, stride, padding, dilation, groups=channels) for a (C, 1, k, k) `weight`, with
    the input gradient computed as a forward convolution where `covered`."""
    if covered(x, stride, padding, dilation, weight.shape[-1]):
        return _DepthwiseConv.apply(x, weight, stride, padding, dilation)
    return F.conv2d(x, weight, None, stride, padding, dilation, x.shape[1])


class DepthwiseConv2d(nn.Conv2d):
    """nn.Conv2d(C, C, kernel, stride, padding, dilation, groups=C, bias=False), square geometry, with the
    input gradient computed as a forward convolution where `covered`."""

    def __init__(self, channels: int, kernel: int, stride: int, padding: int, dilation: int = 1):
        super().__init__(channels, channels, kernel, stride, padding, dilation=dilation, groups=channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depthwise_conv2d(x, self.weight, self.stride[0], self.padding[0], self.dilation[0])

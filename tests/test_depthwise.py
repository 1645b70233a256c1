"""stretchnas.kernels.depthwise: values and both gradients equal nn.Conv2d's, in every geometry the DARTS ops use."""

import pytest
import torch
from torch import nn

from stretchnas.kernels import depthwise
from stretchnas.kernels.depthwise import MIN_ELEMENTS, DepthwiseConv2d
from stretchnas.kernels.switch import plain_kernels

# (kernel, padding, dilation) of sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5, and two other paddings
GEOMETRIES = [(3, 1, 1), (5, 2, 1), (3, 2, 2), (5, 4, 2), (3, 0, 1), (5, 3, 2)]


def _pair(kernel, stride, padding, dilation, channels=5):
    fast = DepthwiseConv2d(channels, kernel, stride, padding, dilation).double()
    plain = nn.Conv2d(
        channels, channels, kernel, stride, padding, dilation=dilation, groups=channels, bias=False
    ).double()
    plain.load_state_dict(fast.state_dict())
    return fast, plain


def _grads(conv, x, upstream, wrt):
    out = conv(x)
    return out, torch.autograd.grad(out, [x, conv.weight][wrt], grad_outputs=upstream)


@pytest.mark.parametrize("kernel, padding, dilation", GEOMETRIES)
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [9, 10])  # odd and even sides: stride 2 leaves a row unread on one of them
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("wrt", [slice(0, 2), slice(0, 1), slice(1, 2)], ids=["both", "input", "weight"])
def test_values_and_gradients_equal_nn_conv2d(kernel, stride, padding, dilation, size, channels_last, wrt, monkeypatch):
    monkeypatch.setattr(depthwise, "covered", lambda *args: torch.is_grad_enabled())  # every geometry, any size
    torch.manual_seed(0)
    fast, plain = _pair(kernel, stride, padding, dilation)
    x = torch.randn(3, 5, size, size, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    upstream = torch.randn_like(plain(x))  # a loss whose gradient differs per output pixel
    fast_out, fast_grads = _grads(fast, x, upstream, wrt)
    plain_out, plain_grads = _grads(plain, x, upstream, wrt)
    torch.testing.assert_close(fast_out, plain_out, rtol=1e-12, atol=1e-12)
    for a, b in zip(fast_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def _takes_the_path(conv, x) -> bool:
    return "DepthwiseConv" in type(conv(x).grad_fn).__name__


@pytest.mark.parametrize("kernel, padding, dilation", GEOMETRIES[:4])
def test_dilated_kernels_above_the_size_threshold_take_the_forward_convolution_path(
    kernel, padding, dilation, monkeypatch
):
    monkeypatch.setattr(depthwise, "MIN_ELEMENTS", MIN_ELEMENTS)  # the shipped threshold (conftest lowers it)
    large = torch.randn(MIN_ELEMENTS // (8 * 16 * 16), 8, 16, 16, requires_grad=True)
    assert large.numel() == MIN_ELEMENTS
    small = large[1:]
    for stride in (1, 2):
        conv = DepthwiseConv2d(8, kernel, stride, padding, dilation)
        assert _takes_the_path(conv, large) == (dilation > 1), stride  # undilated: torch's own was not slower
        assert not _takes_the_path(conv, small)
        with torch.no_grad():
            assert conv(large).grad_fn is None


def test_a_graph_differentiated_twice_runs_the_plain_convolution():
    torch.manual_seed(0)
    fast, plain = _pair(3, 1, 2, 2)
    x = torch.randn(2, 5, 64, 64, dtype=torch.float64, requires_grad=True)
    assert _takes_the_path(fast, x)
    with plain_kernels():
        out = fast(x)
    assert "DepthwiseConv" not in type(out.grad_fn).__name__
    (g,) = torch.autograd.grad(out.square().sum(), fast.weight, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), x)  # second order through the plain convolution
    (g_plain,) = torch.autograd.grad(plain(x).square().sum(), plain.weight, create_graph=True)
    torch.testing.assert_close(gg, torch.autograd.grad(g_plain.sum(), x)[0])


class _CountConvolutionBackward(torch.utils._python_dispatch.TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += func is torch.ops.aten.convolution_backward.default
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("wrt, weight_grads", [("input", 0), ("weight", 1), ("both", 1)])
def test_a_pass_for_other_parameters_computes_no_weight_gradient(wrt, weight_grads, monkeypatch):
    """The architecture step asks for alpha's gradient only: the weight gradient must not be computed."""
    conv = DepthwiseConv2d(4, 5, 1, 4, 2)
    source = torch.randn(2, 4, 8, 8, requires_grad=True)
    assert _takes_the_path(conv, source)
    out = conv(source * 2).square().sum()
    inputs = {"input": [source], "weight": [conv.weight], "both": [source, conv.weight]}[wrt]
    with _CountConvolutionBackward() as counter:
        torch.autograd.grad(out, inputs)
    assert counter.calls == weight_grads


def test_the_gradient_with_respect_to_an_intermediate_input_is_computed():
    """torch.autograd.grad captures a non-leaf input without running its node: the engine must still count its
    gradient as used."""
    fast, plain = _pair(3, 1, 2, 2)
    source = torch.randn(2, 5, 8, 8, dtype=torch.float64, requires_grad=True)
    hidden = source * 2
    assert _takes_the_path(fast, hidden)
    (grad,) = torch.autograd.grad(fast(hidden).square().sum(), [hidden])
    torch.testing.assert_close(grad, torch.autograd.grad(plain(hidden).square().sum(), [hidden])[0])

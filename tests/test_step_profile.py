"""stretchnas.measurement.step_profile: kernel calls counted by kind, and time shares from a profile."""

import pytest
import torch
from torch import nn

from stretchnas.measurement.step_profile import KINDS, count_kernels, kind_of, time_shares


@pytest.mark.parametrize(
    "name, kind",
    [
        ("aten::mkldnn_convolution", "convolution"),
        ("aten.convolution_backward.default", "convolution"),
        ("autograd::engine::evaluate_function: ConvolutionBackward0", "convolution"),
        ("_DepthwiseConv", "convolution"),
        ("aten::native_batch_norm_backward", "batch_norm"),
        ("_NormalizedMixBackward", "batch_norm"),
        ("aten.max_pool2d_with_indices.default", "pooling"),
        ("aten::avg_pool2d_backward", "pooling"),
        ("aten.mul.Tensor", "elementwise"),
        ("aten::add_", "elementwise"),
        ("aten.threshold_backward.default", "elementwise"),
        ("aten::copy_", "elementwise"),
        ("aten.view.default", "other"),
        ("aten::sum", "other"),
    ],
)
def test_operators_are_sorted_by_kind(name, kind):
    assert kind_of(name) == kind


def test_kernel_calls_are_counted_per_operator_forward_and_backward():
    conv = nn.Conv2d(3, 4, 3, bias=False)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)

    def step():
        y = torch.relu(conv(x)) * 2.0
        y.sum().backward()

    calls = count_kernels(step)
    # forward: convolution, relu, mul, sum; backward: the sum's expand (other), mul, threshold_backward,
    # convolution_backward, then the gradients' accumulation into .grad (detach: other)
    assert calls["convolution"] == 2
    assert calls["elementwise"] >= 4
    assert calls["total"] == sum(calls[kind] for kind in KINDS)


def test_time_shares_name_every_kind_and_put_a_convolution_step_in_convolution():
    conv = nn.Conv2d(32, 32, 3, padding=1, bias=False)
    x = torch.randn(8, 32, 32, 32)
    shares = time_shares(lambda: conv(x).sum().backward())
    assert set(shares) == {*KINDS, "unattributed"}
    assert all(0 <= value <= 1.001 for value in shares.values())
    assert max(KINDS, key=shares.get) == "convolution"

"""The fused batch norm + weighted sum of a mixed edge against nn.BatchNorm2d and a plain weighted sum."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from stretchnas.kernels.normalized_mix import fusable, normalized_mix
from stretchnas.method import supernet
from stretchnas.method.networks import build_search_network
from stretchnas.method.supernet import MixedEdge
from stretchnas.settings.params import load_settings


def _inputs(k: int, channels_last: bool, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    zs = [torch.randn(4, 3, 5, 5, generator=gen, dtype=torch.float64) * (j + 1) + j for j in range(k)]
    if channels_last:
        zs = [z.contiguous(memory_format=torch.channels_last) for z in zs]
    weights = torch.rand(k, generator=gen, dtype=torch.float64)
    return [z.requires_grad_(True) for z in zs], weights.requires_grad_(True)


def _norms(k: int, momentum):
    return [nn.BatchNorm2d(3, affine=False, momentum=momentum).double() for _ in range(k)]


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_values_gradients_and_running_statistics_equal_batch_norm_then_weighted_sum(k, channels_last, momentum):
    zs, weights = _inputs(k, channels_last)
    ref_zs = [z.detach().clone().requires_grad_(True) for z in zs]
    ref_weights = weights.detach().clone().requires_grad_(True)
    norms, ref_norms = _norms(k, momentum), _norms(k, momentum)
    upstream = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    for _ in range(2):  # a second call checks the running-statistics update rule, momentum None included
        out = normalized_mix(weights, zs, norms)
        expected = sum(ref_weights[j] * ref_norms[j](ref_zs[j]) for j in range(k))
        torch.testing.assert_close(out, expected)
        grads = torch.autograd.grad((out * upstream).sum(), [weights, *zs])
        ref_grads = torch.autograd.grad((expected * upstream).sum(), [ref_weights, *ref_zs])
        for got, want in zip(grads, ref_grads):
            torch.testing.assert_close(got, want)
    for norm, ref in zip(norms, ref_norms):
        torch.testing.assert_close(norm.running_mean, ref.running_mean)
        torch.testing.assert_close(norm.running_var, ref.running_var)
        assert int(norm.num_batches_tracked) == int(ref.num_batches_tracked) == 2


def test_weights_without_gradient_still_give_the_inputs_their_gradients():
    zs, weights = _inputs(2, channels_last=False)
    weights = weights.detach()
    out = normalized_mix(weights, zs, _norms(2, 0.1))
    got = torch.autograd.grad(out.sum() + (out**2).sum(), zs)
    ref_zs = [z.detach().clone().requires_grad_(True) for z in zs]
    ref_norms = _norms(2, 0.1)
    expected = sum(weights[j] * ref_norms[j](ref_zs[j]) for j in range(2))
    want = torch.autograd.grad(expected.sum() + (expected**2).sum(), ref_zs)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)


def test_only_training_mode_affine_free_norms_in_a_graph_are_fused():
    assert fusable(nn.BatchNorm2d(3, affine=False))
    assert not fusable(nn.BatchNorm2d(3, affine=True))
    assert not fusable(nn.BatchNorm2d(3, affine=False).eval())
    with torch.no_grad():  # nothing to keep for a backward
        assert not fusable(nn.BatchNorm2d(3, affine=False))


def _saved_bytes(fn) -> int:
    storages: dict[int, int] = {}

    def pack(t):
        storages.setdefault(t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def test_an_alpha_gradient_keeps_no_more_than_the_weight_step_on_conv_only_edges():
    # Without the fusion, the product w_k * BN(z_k) keeps BN's output for w_k's gradient: one more
    # tensor per op whenever alpha takes a gradient.
    edge = MixedEdge(["none", "nor_conv_1x1", "nor_conv_3x3"], 8, 1, "nb201")
    x = torch.randn(4, 8, 16, 16)
    weights = torch.rand(3)
    arch = _saved_bytes(lambda: edge(x, torch.relu(x), weights.clone().requires_grad_(True)))
    plain = _saved_bytes(lambda: edge(x, torch.relu(x), weights))
    assert arch == plain


@pytest.mark.parametrize(
    ("space", "mode", "optimizer_settings"),
    [
        ("darts", "darts", {}),
        ("nb201", "darts", {}),
        ("nb201", "stretchable", {}),
        ("darts", "stretchable", {"pc_darts": {"partial_channels": 2, "edge_normalization": True}}),
    ],
)
def test_supernet_with_fusion_equals_it_without(monkeypatch, space, mode, optimizer_settings):
    """Logits, every weight and architecture gradient and every running statistic, in float64."""
    search = load_settings(Path(__file__).resolve().parents[1] / "params.yaml", "smoke", environ={}).search
    search = search.merged(
        {
            "channels": 8,
            "layers": 5,
            "op_space": space,
            "cells_per_stage": 2,
            "channels_last": True,
            "topology": {"mode": mode, "allow_empty_output": False},
            **optimizer_settings,
        }
    )
    torch.manual_seed(0)
    fused = build_search_network(search).double()
    plain = copy.deepcopy(fused)
    x = torch.randn(6, 3, 32, 32, dtype=torch.float64)
    fused_logits = fused(x)
    fused_logits.square().sum().backward()
    monkeypatch.setattr(supernet, "fusable", lambda norm: False)
    plain_logits = plain(x)
    plain_logits.square().sum().backward()
    torch.testing.assert_close(fused_logits, plain_logits)
    for (name, p), q in zip(fused.named_parameters(), plain.parameters()):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-9, atol=1e-12, msg=name)
    for (name, a), b in zip(fused.named_buffers(), plain.named_buffers()):
        torch.testing.assert_close(a, b[1], msg=name)

"""The search supernet: runs in every mode and equals the straightforward DARTS computation."""

import pytest
import torch
from torch.nn import functional as F

from stretchnas.method.supernet import SearchNetwork
from stretchnas.method.topology import build_space

MODES = [
    ("darts", {}),
    ("darts_output", {}),
    ("input_pairs", {}),
    ("output_pairs", {}),
    ("output_k", {"k": 1}),
    ("output_k", {"k": 3}),
    ("output_k", {"k": 4}),
    ("stretchable", {}),
    ("stretchable", {"allow_empty_output": True}),
]


def _bn(x):
    return F.batch_norm(x, None, None, training=True)  # search BN: affine-free, batch statistics


def _dw_pw(x, depthwise, pointwise, stride, padding, dilation=1):
    x = F.conv2d(x, depthwise, stride=stride, padding=padding, dilation=dilation, groups=x.shape[1])
    return _bn(F.conv2d(x, pointwise))


def reference_op(name: str, module, x, stride: int):
    """DARTS's candidate ops written out with torch.nn.functional, reading only the module's weights."""
    if name == "none":
        return torch.zeros_like(x[:, :, ::stride, ::stride])
    if name == "max_pool_3x3":
        return _bn(F.max_pool2d(x, 3, stride, 1))
    if name == "avg_pool_3x3":
        return _bn(F.avg_pool2d(x, 3, stride, 1, count_include_pad=False))
    if name == "skip_connect":
        if stride == 1:
            return x
        r = F.relu(x)
        halves = [
            F.conv2d(r, module.conv_1.weight, stride=2),
            F.conv2d(r[:, :, 1:, 1:], module.conv_2.weight, stride=2),
        ]
        return _bn(torch.cat(halves, dim=1))
    w = [m.weight for m in module.body if isinstance(m, torch.nn.Conv2d)]
    if name.startswith("sep_conv"):
        pad = 1 if name.endswith("3x3") else 2
        y = _dw_pw(F.relu(x), w[0], w[1], stride, pad)
        return _dw_pw(F.relu(y), w[2], w[3], 1, pad)
    if name.startswith("dil_conv"):
        pad = 2 if name.endswith("3x3") else 4
        return _dw_pw(F.relu(x), w[0], w[1], stride, pad, dilation=2)
    raise AssertionError(name)


def reference_edge_scale(space, beta):
    """s(e) as the explicit sum over subsets (Eq. 4 form): c_v * sum_{S in F_v, e in S} p_v(S)."""
    scale = [beta.new_zeros(()) for _ in space.edges]
    start = 0
    for group in space.variables:
        p = torch.softmax(beta[start : start + len(group.subsets)], dim=0)
        start += len(group.subsets)
        for subset, p_subset in zip(group.subsets, p):
            for e in subset:
                scale[e] = scale[e] + group.scale * p_subset
    return scale


def straightforward_forward(net: SearchNetwork, x: torch.Tensor) -> torch.Tensor:
    """DARTS's MixedOp structure, independent of the fast path's op code and edge weights: every op
    (`none` included) runs on its own from functional calls, node = sum_e s(e) * sum_o softmax(alpha_e)_o o(x)."""
    s0 = s1 = net.stem(x)
    for cell in net.cells:
        cell_type = "reduce" if cell.reduction else "normal"
        alpha = torch.softmax(net.alpha[cell_type], dim=-1)
        has_beta = net.topology.has_beta
        scale = reference_edge_scale(net.topology, net.beta[cell_type]) if has_beta else None
        states = [cell.pre0(s0), cell.pre1(s1)]
        for j in range(2, net.topology.n_nodes + 2):
            node = 0
            for e, (i, jj) in enumerate(net.topology.edges):
                if jj != j:
                    continue
                stride = 2 if cell.reduction and i < 2 else 1
                if str(e) not in cell.edges:  # never selectable: s(e) must be exactly 0
                    assert scale is not None and scale[e].item() == 0
                    continue
                edge = cell.edges[str(e)]
                modules = dict(zip(edge.op_index, edge.ops))
                mixed = sum(
                    alpha[e, k] * reference_op(name, modules.get(k), states[i], stride)
                    for k, name in enumerate(net.op_names)
                )
                node = node + (mixed if scale is None else scale[e] * mixed)
            states.append(node)
        s0, s1 = s1, torch.cat(states[2:], dim=1)
    return net.classifier(s1)


@pytest.mark.parametrize("mode, kw", MODES)
@pytest.mark.parametrize("n_nodes", [4, 6])
def test_supernet_equals_the_straightforward_implementation(mode, kw, n_nodes):
    torch.manual_seed(0)
    net = SearchNetwork(build_space(mode, n_nodes, **kw), C=4, layers=3).double()
    for p in net.arch_parameters():
        torch.nn.init.normal_(p, std=0.5)
    x = torch.randn(3, 3, 8, 8, dtype=torch.float64)
    params = net.arch_parameters() + net.weight_parameters()

    fast = net(x)
    fast_grads = torch.autograd.grad(fast.square().sum(), params, allow_unused=True)
    slow = straightforward_forward(net, x)
    slow_grads = torch.autograd.grad(slow.square().sum(), params, allow_unused=True)

    assert torch.allclose(fast, slow, atol=1e-10, rtol=1e-9)
    for name_grad in zip(fast_grads, slow_grads):
        a, b = name_grad
        if a is None or b is None:
            assert a is None and b is None
        else:
            assert torch.allclose(a, b, atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("mode, kw", MODES)
@pytest.mark.parametrize("n_nodes", [4, 6])
@pytest.mark.parametrize("layers", [8, 12, 16])
def test_supernet_runs_forward_and_backward(mode, kw, n_nodes, layers):
    torch.manual_seed(0)
    net = SearchNetwork(build_space(mode, n_nodes, **kw), C=2, layers=layers, num_classes=3)
    logits = net(torch.randn(2, 3, 8, 8))
    assert logits.shape == (2, 3)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2])).backward()
    assert all(p.grad is not None for p in net.alpha_parameters())
    assert all(p.grad is not None for p in net.beta_parameters())
    assert len(net.beta_parameters()) == (0 if mode.startswith("darts") else 2)


def test_none_and_unselectable_edges_are_not_built():
    net = SearchNetwork(build_space("darts", 4), C=4, layers=3)
    for cell in net.cells:
        for edge in cell.edges.values():
            assert len(edge.ops) == 7  # 8 candidates, `none` not instantiated
    net = SearchNetwork(build_space("output_pairs", 4), C=4, layers=3)
    assert all(len(cell.edges) == 13 for cell in net.cells)  # edge (4, 5) can never be selected


def test_weight_and_arch_parameters_are_disjoint_and_complete():
    net = SearchNetwork(build_space("stretchable", 4), C=4, layers=3)
    arch = {id(p) for p in net.arch_parameters()}
    weights = {id(p) for p in net.weight_parameters()}
    assert not arch & weights
    assert arch | weights == {id(p) for p in net.parameters()}


@pytest.mark.parametrize("option", [{"channels_last": True}, {"recompute": "cells"}, {"recompute": "alternate"}])
def test_layout_and_recomputation_do_not_change_the_mathematics(option):
    space = build_space("stretchable", 4)
    torch.manual_seed(0)
    plain = SearchNetwork(space, C=4, layers=4).double()
    torch.manual_seed(0)
    other = SearchNetwork(space, C=4, layers=4, **option).double()
    other.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    outs, grads = [], []
    for net in (plain, other):
        out = net(x)
        outs.append(out)
        grads.append(torch.autograd.grad(out.square().sum(), net.arch_parameters() + net.weight_parameters()))
    assert torch.allclose(outs[0], outs[1], atol=1e-10)
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-10)

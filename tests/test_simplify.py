"""The 2024 topological simplification: every kernel merge against the separate convolutions it replaces,
the shared modules against their unshared composition, gradients to every candidate and every alpha/beta,
and derivation to ordinary genotypes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from stretchnas.method.derive import derive_architecture
from stretchnas.method.evalnet import EvalNetwork
from stretchnas.method.genotype import Genotype
from stretchnas.method.nb201.arch import NB201Genotype
from stretchnas.method.networks import build_search_network
from stretchnas.method.simplify import GROUPS, MergedConv, SharedGroup, merged_kernel, normalize_kernel
from stretchnas.settings.params import load_settings
from stretchnas.settings.types import SearchSettings

REPO = Path(__file__).resolve().parents[1]
EVERY_GROUP = [pytest.param(space, group, id=f"{space}-{group.kind}") for space in GROUPS for group in GROUPS[space]]


def separate_convs(x, kernels, candidates, weights, stride, groups, how):
    """sum_k w_k conv_k(x): each candidate with its own kernel size, padding and dilation."""
    return sum(
        w * F.conv2d(x, normalize_kernel(kernel, how), None, stride, c.dilation * (c.size - 1) // 2, c.dilation, groups)
        for w, kernel, c in zip(weights, kernels, candidates)
    )


@pytest.mark.parametrize(("space", "group"), EVERY_GROUP)
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("how", ["none", "l2"])
def test_every_merged_convolution_equals_the_weighted_separate_convolutions(space, group, stride, how):
    """Values and gradients (stretchnas.kernels.depthwise's input gradient included, which conftest enables at
    this size)."""
    torch.manual_seed(0)
    C = 6
    depthwise = group.kind != "conv"
    conv = MergedConv(C, C, group.candidates, stride, C if depthwise else 1, how)
    x = torch.randn(3, C, 11, 11, requires_grad=True)
    weights = torch.rand(len(group.candidates), requires_grad=True)
    members = list(range(len(group.candidates)))
    expected = separate_convs(x, list(conv.kernels), group.candidates, weights, stride, C if depthwise else 1, how)
    merged = conv(x, weights, members)
    torch.testing.assert_close(merged, expected, rtol=1e-5, atol=1e-5)
    # and the gradients, to the input, the mixing weights and every candidate kernel
    upstream = torch.randn_like(merged)
    inputs = [x, weights, *conv.kernels]
    for a, b in zip(torch.autograd.grad(merged, inputs, upstream), torch.autograd.grad(expected, inputs, upstream)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    # one candidate alone (GDAS's drawn op, EDAS's clamped edge) is that op's convolution
    for m, c in enumerate(group.candidates):
        alone = separate_convs(x, [conv.kernels[m]], [c], weights[m : m + 1], stride, C if depthwise else 1, how)
        torch.testing.assert_close(conv(x, weights[m : m + 1], [m]), alone, rtol=1e-5, atol=1e-5)


def test_l2_normalisation_gives_unit_filters_and_makes_the_merge_blind_to_kernel_scale():
    torch.manual_seed(0)
    small, large = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 5, 5)
    assert torch.allclose(normalize_kernel(large, "l2").flatten(1).norm(dim=1), torch.ones(4))
    assert torch.equal(normalize_kernel(large, "none"), large)
    weights = torch.tensor([0.3, 0.7])
    merged = merged_kernel([small, large], weights, "l2")
    torch.testing.assert_close(merged_kernel([10 * small, 0.1 * large], weights, "l2"), merged)
    assert not torch.allclose(merged_kernel([10 * small, 0.1 * large], weights, "none"), 10 * merged)


def shared_group_unmerged(group: SharedGroup, x_relu, weights, how):
    """The group written without merging: the same shared modules, every candidate's conv run apart."""
    cands = {"conv": "conv", "dil": "depthwise", "sep": "depthwise"}
    first = getattr(group, cands[group.kind])
    kind_groups = 1 if group.kind == "conv" else x_relu.shape[1]
    candidates = group.candidates

    def parallel(conv, x, stride):
        return separate_convs(x, list(conv.kernels), candidates, weights, stride, kind_groups, how)

    y = parallel(first, x_relu, first.stride)
    if group.kind != "conv":
        y = group.pointwise(y)
    if group.kind == "sep":
        y = group.pointwise_2(parallel(group.depthwise_2, torch.relu(group.norm_1(y)), 1))
    return weights.sum() * group.final_norm(y)


@pytest.mark.parametrize(("space", "group"), EVERY_GROUP)
@pytest.mark.parametrize("how", ["none", "l2"])
def test_a_shared_group_equals_its_modules_with_every_candidate_convolution_run_apart(space, group, how):
    """Includes the merge that sharing exposes: sep's second depthwise convolutions, once the first
    stage's pointwise conv and batch norm are shared."""
    torch.manual_seed(0)
    module = SharedGroup(group, 6, 1, how).double()
    x = torch.relu(torch.randn(4, 6, 9, 9, dtype=torch.float64))
    weights = torch.rand(len(group.candidates), dtype=torch.float64)
    members = list(range(len(group.candidates)))
    torch.testing.assert_close(module(x, weights, members), shared_group_unmerged(module, x, weights, how))


def simplified_settings(space: str, mode: str, **overrides) -> SearchSettings:
    search = load_settings(REPO / "params.yaml", "smoke", environ={}).search
    return search.merged(
        {
            "op_space": space,
            "cells_per_stage": 1,
            "channels": 8,
            "layers": 5,
            "simplify": True,
            "topology": {"mode": mode, "allow_empty_output": False},
            **overrides,
        }
    )


@pytest.mark.parametrize("space", ["nb201", "darts"])
@pytest.mark.parametrize("sampling", ["mixture", "gdas"])
def test_gradients_reach_every_candidate_kernel_every_alpha_and_beta(space, sampling):
    torch.manual_seed(0)
    net = build_search_network(simplified_settings(space, "stretchable"))
    plain = build_search_network(simplified_settings(space, "stretchable", simplify=False))
    assert any(name.endswith("kernels.1") for name, _ in net.named_parameters())
    for network in (net, plain):
        network.sampling = sampling
        torch.manual_seed(1)
        network(torch.randn(4, 3, 32, 32)).square().sum().backward()
    for name, p in net.named_parameters():
        if name.startswith("beta") and sampling == "mixture":
            # the same entries as without simplification (a subset no cell can use gets none)
            assert torch.equal(p.grad != 0, plain.get_parameter(name).grad != 0), name
        elif sampling == "mixture" or name.startswith(("alpha", "beta")):
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    if sampling == "mixture":
        assert all((net.alpha[c].grad != 0).all() for c in net.cell_types)


@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_a_simplified_supernet_derives_an_ordinary_genotype_that_builds_and_runs(space):
    torch.manual_seed(0)
    net = build_search_network(simplified_settings(space, "darts"))
    with torch.no_grad():
        for alpha in net.alpha.values():
            alpha.normal_()
    genotype = derive_architecture(net).genotype
    if space == "nb201":
        assert isinstance(genotype, NB201Genotype)
        assert NB201Genotype.from_arch_str(genotype.arch_str).arch_str == genotype.arch_str
    else:
        assert isinstance(genotype, Genotype)
        model = EvalNetwork(genotype, C=8, num_classes=10, layers=5, auxiliary=False)
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_a_simplified_search_runs_and_ends_in_an_ordinary_genotype(tmp_path, tiny_search_data, space):
    """A smoke-sized search with `simplify: true` in each space, through the search runner."""
    from stretchnas.method.genotype import load_genotype
    from stretchnas.search.runner import SearchRun

    settings = simplified_settings(
        space,
        "stretchable",
        split_scheme="three_way",
        epochs=1,
        max_steps_per_epoch=2,
        snapshot_epochs=[1],
        channels=4,
        layers=5,
    )
    genotype = SearchRun("simplified", settings, tiny_search_data, tmp_path, 0).run(False)
    assert isinstance(genotype, NB201Genotype if space == "nb201" else Genotype)
    assert load_genotype(tmp_path / "genotype.json") == genotype

"""Topology spaces against brute force (docs/method.md §2): Eq. 4 = Eqs. 6/9/13, scales, family sizes."""

import itertools
import math

import pytest
import torch

from stretchnas.method.topology import TopologyWeights, build_space, cell_edges

MODES = [
    ("input_pairs", {}),
    ("output_pairs", {}),
    ("output_k", {"k": 1}),
    ("output_k", {"k": 2}),
    ("output_k", {"k": 3}),
    ("output_k", {"k": 4}),
    ("stretchable", {}),
    ("stretchable", {"allow_empty_output": True}),
]


def brute_force_families(mode, n_nodes, k=2, allow_empty_output=False):
    """F_v written out from the table of docs/method.md §2, independent of the library: {node: (edges, subsets, c)}."""
    edges = cell_edges(n_nodes)
    families = {}
    if mode == "input_pairs":
        for j in range(2, n_nodes + 2):
            into = [e for e, (_, jj) in enumerate(edges) if jj == j]
            families[j] = (into, [set(s) for s in itertools.combinations(into, 2)], 1.0)
        return families
    for i in range(n_nodes + 1):
        out = [e for e, (ii, jj) in enumerate(edges) if ii == i]
        n = len(out)
        if mode == "output_pairs" or mode == "output_k":
            size = 2 if mode == "output_pairs" else k
            if n < size:
                continue
            subsets = [set(s) for s in itertools.combinations(out, size)]
            c = math.comb(n, size) / math.comb(n - 1, size - 1)
        else:
            sizes = range(0 if allow_empty_output else 1, n + 1)
            subsets = [set(s) for r in sizes for s in itertools.combinations(out, r)]
            c = (2**n if allow_empty_output else 2**n - 1) / 2 ** (n - 1)
        families[i] = (out, subsets, c)
    return families


@pytest.mark.parametrize("n_nodes", [4, 6])
@pytest.mark.parametrize("mode, kw", MODES)
def test_merged_weights_equal_the_explicit_sum_over_subsets(mode, kw, n_nodes):
    torch.manual_seed(0)
    space = build_space(mode, n_nodes, **kw)
    weights = TopologyWeights(space).double()
    beta = torch.randn(space.num_subsets, dtype=torch.float64)
    s = weights(beta)
    edge_outputs = torch.randn(len(space.edges), 3, 5, 5, dtype=torch.float64)  # o^(i,j)(x_i), one per edge

    # Eq. 4: every node j sums, over every group v and subset S, p_v(S) * c_v * (sum of S's edges into j)
    families = brute_force_families(mode, n_nodes, **kw)
    assert len(families) == len(space.variables)
    explicit = {j: torch.zeros(3, 5, 5, dtype=torch.float64) for j in range(2, n_nodes + 2)}
    for (node, (_, subsets, c)), group, p in zip(families.items(), space.variables, weights.probabilities(beta)):
        assert group.node == node and len(group.subsets) == len(subsets)
        assert group.scale == pytest.approx(c if mode != "input_pairs" else 1.0)
        for subset_tuple, prob in zip(group.subsets, p):
            assert set(subset_tuple) in subsets
            for e in subset_tuple:
                explicit[space.edges[e][1]] += c * prob * edge_outputs[e]
    for j in range(2, n_nodes + 2):
        merged = sum(s[e] * edge_outputs[e] for e, (_, jj) in enumerate(space.edges) if jj == j)
        assert torch.allclose(merged, explicit[j], atol=1e-6)


@pytest.mark.parametrize("n_nodes", [4, 6])
@pytest.mark.parametrize("mode, kw", [m for m in MODES if m[0] != "input_pairs"])
def test_uniform_probabilities_give_unit_edge_weights(mode, kw, n_nodes):
    space = build_space(mode, n_nodes, **kw)
    s = TopologyWeights(space)(torch.zeros(space.num_subsets))
    active = space.active_edges()
    assert torch.allclose(s[torch.tensor(active)], torch.ones(sum(active)), atol=1e-6)
    assert torch.all(s[~torch.tensor(active)] == 0)


def test_input_pairs_are_unscaled():
    space = build_space("input_pairs", 4)
    s = TopologyWeights(space)(torch.zeros(space.num_subsets))
    for e, (_, j) in enumerate(space.edges):
        assert s[e].item() == pytest.approx(2 / j)  # node j has j inputs; each is in 2/j of the pairs


@pytest.mark.parametrize("n_nodes", [4, 6])
def test_family_sizes(n_nodes):
    for allow_empty in (False, True):
        space = build_space("stretchable", n_nodes, allow_empty_output=allow_empty)
        assert len(space.variables) == n_nodes + 1  # every node but the last has a successor
        for group in space.variables:
            n = len(group.edges)
            assert len(group.subsets) == (2**n if allow_empty else 2**n - 1)
    for k in (1, 2, 3, 4):
        space = build_space("output_k", n_nodes, k=k)
        for group in space.variables:
            assert len(group.subsets) == math.comb(len(group.edges), k)
        assert [g.node for g in space.variables] == [i for i in range(n_nodes + 1) if n_nodes + 1 - max(i, 1) >= k]


def test_output_pairs_with_four_nodes_select_eight_edges():
    space = build_space("output_pairs", 4)
    assert [len(g.edges) for g in space.variables] == [4, 4, 3, 2]  # node 4 has one successor: no variable
    for seed in range(20):
        beta = torch.randn(space.num_subsets, generator=torch.Generator().manual_seed(seed))
        chosen = set()
        for group, p in zip(space.variables, TopologyWeights(space).probabilities(beta)):
            chosen |= set(group.subsets[int(p.argmax())])
        assert len(chosen) == 8


def test_unknown_mode_and_bad_k_are_refused():
    with pytest.raises(KeyError, match="unknown topology mode 'outputs'"):
        build_space("outputs", 4)
    with pytest.raises(ValueError, match="between 1 and 4"):
        build_space("output_k", 4, k=5)

"""The passive-aggressive regulariser and derivation, on hand-made parameters."""

import itertools

import pytest
import torch

from stretchnas.derive import derive, prune_inputless
from stretchnas.genotype import Cell
from stretchnas.regularizer import passive_aggressive
from stretchnas.supernet import SearchNetwork
from stretchnas.topology import TopologyWeights, build_space


def beta_choosing(space, choice: dict[int, set[tuple[int, int]]], strength=3.0) -> torch.Tensor:
    """A beta whose argmax subset for each group node is the given set of (from, to) edges."""
    beta = torch.zeros(space.num_subsets)
    start = 0
    for group in space.groups:
        wanted = choice[group.node]
        for k, subset in enumerate(group.subsets):
            if {space.edges[e] for e in subset} == wanted:
                beta[start + k] = strength
        start += len(group.subsets)
    return beta


def brute_force_r(space, beta, outer="all_intermediate"):
    probs = TopologyWeights(space).probabilities(beta)
    total = 0.0
    for j in range(2, space.n_nodes + 2):
        if outer == "exclude_last" and j == space.n_nodes + 1:
            continue
        product = 1.0
        for group, p in zip(space.groups, probs):
            into_j = [e for e in group.edges if space.edges[e][1] == j]
            if not into_j:
                continue
            q = max(p.tolist())
            q_j = max(pk for pk, subset in zip(p.tolist(), group.subsets) if into_j[0] in subset)
            product *= 1 - q_j / q
        total += product
    return total


# output pairs, 4 nodes: node 3 gets no input from 0, 1 or 2
INVALID = {0: {(0, 2), (0, 4)}, 1: {(1, 2), (1, 5)}, 2: {(2, 4), (2, 5)}, 3: {(3, 4), (3, 5)}}
VALID = {0: {(0, 2), (0, 3)}, 1: {(1, 2), (1, 5)}, 2: {(2, 4), (2, 5)}, 3: {(3, 4), (3, 5)}}


def test_regulariser_is_zero_for_a_valid_topology_and_positive_otherwise():
    space = build_space("output_pairs", 4)
    weights = TopologyWeights(space)
    valid, invalid = beta_choosing(space, VALID), beta_choosing(space, INVALID)
    assert passive_aggressive(space, weights, valid).item() == 0.0
    r = passive_aggressive(space, weights, invalid)
    assert r.item() > 0
    assert r.item() == pytest.approx(brute_force_r(space, invalid), rel=1e-6)


@pytest.mark.parametrize("mode", ["output_pairs", "stretchable"])
@pytest.mark.parametrize("outer", ["all_intermediate", "exclude_last"])
def test_regulariser_matches_brute_force_on_random_beta(mode, outer):
    space = build_space(mode, 4)
    for seed in range(5):
        beta = torch.randn(space.num_subsets, generator=torch.Generator().manual_seed(seed))
        r = passive_aggressive(space, TopologyWeights(space), beta, outer)
        assert r.item() == pytest.approx(brute_force_r(space, beta, outer), rel=1e-6, abs=1e-9)


def test_regulariser_gradient_reaches_beta_only():
    torch.manual_seed(0)
    net = SearchNetwork(build_space("output_pairs", 4), C=4, layers=3)
    with torch.no_grad():
        net.beta["normal"].copy_(beta_choosing(net.topology, INVALID) + 0.1 * torch.randn(net.topology.num_subsets))
    r = passive_aggressive(net.topology, net.topology_weights, net.beta["normal"])
    grads = torch.autograd.grad(
        r, [net.beta["normal"], net.alpha["normal"], *net.weight_parameters()], allow_unused=True
    )
    assert grads[0] is not None and grads[0].abs().sum() > 0
    assert all(g is None for g in grads[1:])


def test_hand_made_parameters_derive_the_hand_derived_genotype():
    torch.manual_seed(0)
    net = SearchNetwork(build_space("output_pairs", 4), C=4, layers=3)
    ops = net.op_names  # no `none` in topology modes
    assert "none" not in ops
    with torch.no_grad():
        net.beta["normal"].copy_(beta_choosing(net.topology, INVALID))
        net.beta["reduce"].copy_(beta_choosing(net.topology, VALID))
        for kind in ("normal", "reduce"):
            net.alpha[kind].zero_()
            for e, (i, j) in enumerate(net.topology.edges):
                net.alpha[kind][e, (i + j) % len(ops)] = 1.0  # op index (i + j) mod |O|
    genotype = derive(net)
    op = lambda i, j: ops[(i + j) % len(ops)]  # noqa: E731
    # normal: node 3 has no input, so it and its edges (3,4), (3,5) go
    assert genotype.normal.edges == tuple((op(i, j), i, j) for i, j in [(0, 2), (1, 2), (0, 4), (2, 4), (1, 5), (2, 5)])
    assert genotype.normal.concat == (2, 4, 5)
    assert genotype.meta["dropped_nodes"] == {"normal": [3], "reduce": []}
    assert genotype.reduce.concat == (2, 3, 4, 5)
    assert sorted((i, j) for _, i, j in genotype.reduce.edges) == sorted(set().union(*VALID.values()))


def test_darts_hand_rule_keeps_top_two_non_none_inputs():
    torch.manual_seed(0)
    net = SearchNetwork(build_space("darts", 4), C=4, layers=3)
    ops = net.op_names
    assert ops[0] == "none"
    with torch.no_grad():
        alpha = torch.zeros_like(net.alpha["normal"])
        alpha[:, 0] = 10.0  # `none` dominates everywhere and must be ignored
        for e, (i, _) in enumerate(net.topology.edges):
            alpha[e, 1 + (e % 7)] = 1.0 + 0.1 * i  # later inputs are stronger
        net.alpha["normal"].copy_(alpha)
    genotype = derive(net)
    expected = []
    for j in range(2, 6):
        for i in sorted(range(j))[-2:]:
            e = net.topology.edges.index((i, j))
            expected.append((ops[1 + (e % 7)], i, j))
    assert genotype.normal.edges == tuple(expected)


def test_pruning_is_repeated_until_stable():
    # 3 has no input; 4's only input is from 3; 5 is fed by 0
    kept, dropped = prune_inputless([(3, 4), (4, 5), (0, 5), (1, 2)], 4)
    assert dropped == [3, 4]
    assert sorted(kept) == [(0, 5), (1, 2)]


@pytest.mark.parametrize("mode", ["stretchable", "output_pairs", "input_pairs", "darts", "darts_output"])
def test_random_parameters_derive_valid_genotypes(mode):
    for seed, n_nodes in itertools.product(range(3), (4, 6)):
        torch.manual_seed(seed)
        net = SearchNetwork(build_space(mode, n_nodes), C=4, layers=3)
        for p in net.arch_parameters():
            torch.nn.init.normal_(p, std=1.0)
        genotype = derive(net)  # validate() inside
        assert isinstance(genotype.normal, Cell)
        if mode in ("darts", "input_pairs"):
            assert all(len(genotype.normal.inputs_of(j)) == 2 for j in genotype.normal.nodes)

"""The passive-aggressive regulariser and derivation, on hand-made parameters."""

import itertools

import pytest
import torch

from stretchnas.method.derive import derive, prune_inputless
from stretchnas.method.regularizer import passive_aggressive
from stretchnas.method.supernet import SearchNetwork
from stretchnas.method.topology import TopologyWeights, build_space


def beta_choosing(space, choice: dict[int, set[tuple[int, int]]], strength=3.0) -> torch.Tensor:
    """A beta whose argmax subset for each group node is the given set of (from, to) edges."""
    beta = torch.zeros(space.num_subsets)
    start = 0
    for group in space.variables:
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
        for group, p in zip(space.variables, probs):
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


def brute_force_cell(space, alpha, beta, op_names):
    """Derivation written out independently: every node's most likely subset (or DARTS's top-2 rule), nodes
    without input dropped until none is left, the strongest non-`none` op on every kept edge."""
    probs = torch.softmax(alpha.double(), -1).tolist()
    strength = [max(p for p, name in zip(row, op_names) if name != "none") for row in probs]
    edges = space.edges
    if space.has_beta:
        kept, start = set(), 0
        for group in space.variables:
            scores = beta[start : start + len(group.subsets)].tolist()
            start += len(group.subsets)
            kept |= {edges[e] for e in group.subsets[scores.index(max(scores))]}
    else:
        side = 1 if space.perspective == "input" else 0
        kept = set()
        for node in range(space.n_nodes + 2):
            mine = [e for e in range(len(edges)) if edges[e][side] == node]
            if len(mine) >= 2:  # one candidate selects nothing (output side)
                best = sorted(mine, key=lambda e: (-strength[e], e))[:2]
                kept |= {edges[e] for e in best}
    alive = set(range(2, space.n_nodes + 2))
    while True:
        dead = {j for j in alive if not any(jj == j and (i < 2 or i in alive) for i, jj in kept)}
        if not dead:
            break
        alive -= dead
    kept = {(i, j) for i, j in kept if j in alive and (i < 2 or i in alive)}
    ops = {}
    for i, j in kept:
        row = probs[edges.index((i, j))]
        ops[(i, j)] = max((p, -k, name) for k, (p, name) in enumerate(zip(row, op_names)) if name != "none")[2]
    return {(ops[e], *e) for e in kept}, sorted(alive & {j for _, j in kept})


@pytest.mark.parametrize("mode", ["stretchable", "output_pairs", "input_pairs", "darts", "darts_output"])
def test_random_parameters_derive_what_a_brute_force_derivation_derives(mode):
    for seed, n_nodes in itertools.product(range(3), (4, 6)):
        torch.manual_seed(seed)
        net = SearchNetwork(build_space(mode, n_nodes), C=4, layers=3)
        for p in net.arch_parameters():
            torch.nn.init.normal_(p, std=1.0)
        genotype = derive(net)  # validate() inside
        for cell_type in ("normal", "reduce"):
            beta = net.beta[cell_type].detach() if net.topology.has_beta else None
            edges, concat = brute_force_cell(net.topology, net.alpha[cell_type].detach(), beta, net.op_names)
            cell = getattr(genotype, cell_type)
            assert set(cell.edges) == edges, (mode, seed, n_nodes, cell_type)
            assert list(cell.concat) == concat
        if mode in ("darts", "input_pairs"):
            assert all(len(genotype.normal.inputs_of(j)) == 2 for j in genotype.normal.nodes)

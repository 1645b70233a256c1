"""The base methods of the 2024 TopoNAS comparison, in the search registries: GDAS's sampling and beta-DARTS's
decay, each combined with any optimiser, topology mode and space."""

from pathlib import Path

import pytest
import torch

from stretchnas.method.networks import build_search_network
from stretchnas.search.architect import ArchGroup
from stretchnas.search.optimizers import beta_decay, build_search_optimizer
from stretchnas.settings.params import load_settings

REPO = Path(__file__).resolve().parents[1]


def search_settings(op_space="nb201", mode="stretchable", **overrides):
    search = load_settings(REPO / "params.yaml", "smoke", environ={}).search
    return search.merged(
        {
            "op_space": op_space,
            "cells_per_stage": 1,
            "channels": 4,
            "layers": 5,
            "topology": {"mode": mode, "allow_empty_output": False},
            **overrides,
        }
    )


@pytest.mark.parametrize(("op_space", "mode"), [("nb201", "stretchable"), ("nb201", "darts"), ("darts", "darts")])
def test_gdas_runs_exactly_the_drawn_op_on_every_edge_and_its_gradient_reaches_that_edges_alpha(op_space, mode):
    torch.manual_seed(0)
    net = build_search_network(search_settings(op_space, mode, sampling="gdas"), num_classes=5)
    net.tau = 5.0
    ran = []  # (edge module, op index) of every op forward
    for cell in net.cells:
        for edge in getattr(cell, "edges", {}).values():
            for k, op in zip(edge.op_index, edge.ops):
                op.register_forward_hook(lambda module, args, out, edge=edge, k=k: ran.append((id(edge), k)))
    weights, plans = net.edge_weights(arch_grad=True, relaxed=None)
    for cell_type, w in weights.items():
        assert torch.equal(w.detach().max(-1).values, w.detach().sum(-1))  # one non-zero weight per edge...
        drawn = torch.tensor([plans[cell_type][e] for e in range(w.shape[0])])
        scale = net.edge_scale(cell_type)
        expected = torch.ones(w.shape[0]) if scale is None else scale.detach()
        torch.testing.assert_close(w.detach()[torch.arange(w.shape[0]), drawn], expected)  # ...the drawn op's, 1 x s(e)
    ran.clear()
    drawn_in_forward = []
    sample = net.edge_weights
    net.edge_weights = lambda *args: drawn_in_forward.append(sample(*args)) or drawn_in_forward[-1]
    torch.manual_seed(1)
    logits = net(torch.randn(2, 3, 32, 32))
    per_edge = {}
    for edge, k in ran:
        per_edge.setdefault(edge, set()).add(k)
    assert all(len(ops) == 1 for ops in per_edge.values())  # never two ops of one edge in a forward
    (_, plans) = drawn_in_forward[0]
    for cell in net.cells:  # the op that ran on an edge is the one drawn for it
        cell_type = "reduce" if getattr(cell, "reduction", False) else "normal"
        for e, edge in getattr(cell, "edges", {}).items():
            drawn = plans[cell_type][int(e)]
            assert per_edge.get(id(edge), {drawn}) == {drawn}  # (a shared pooling output may run elsewhere)
    logits.sum().backward()
    for cell_type, alpha in net.alpha.items():
        # the straight-through gradient reaches each edge's alpha through its drawn op's soft weight (on the
        # edges leaving a cell input: an edge leaving a node whose inputs all drew `none` carries zeros)
        drawn_ops = [plans[cell_type][e] for e in range(alpha.shape[0])]
        used = [
            e
            for e, k in enumerate(drawn_ops)
            if net.op_names[k] != "none" and net.topology.edges[e][0] < net.topology.n_inputs
        ]
        assert alpha.grad is not None and (alpha.grad[used].abs().sum(-1) > 0).all()


def test_gdas_anneals_tau_linearly_from_tau_max_to_tau_min():
    settings = search_settings(sampling="gdas", epochs=5)
    optimizer = build_search_optimizer("darts_1st", build_search_network(settings), settings)
    taus = []
    for epoch in range(5):
        optimizer.start_epoch(epoch)
        taus.append(optimizer.net.tau)
    assert taus == pytest.approx([10.0, 7.525, 5.05, 2.575, 0.1])


def test_beta_decays_gradient_is_the_softmax_of_each_edge_over_the_edge_count_times_lambda():
    settings = search_settings("darts", "darts", beta_decay={"lambda_max": 50.0, "ramp_epochs": 100})
    torch.manual_seed(0)
    net = build_search_network(settings)
    for alpha in net.alpha_parameters():
        alpha.data.normal_()
    optimizer = build_search_optimizer("darts_1st", net, settings)
    optimizer.start_epoch(10)
    assert optimizer.beta_decay_weight() == 5.0  # 50 * 10 / 100
    group = ArchGroup(net.alpha_parameters(), None, regularized=False)
    grads = torch.autograd.grad(optimizer.penalty(group), net.alpha_parameters())
    for alpha, grad in zip(net.alpha_parameters(), grads):
        # d/d alpha_eo of mean_e logsumexp(alpha_e) = softmax(alpha_e)_o / edges
        torch.testing.assert_close(grad, 5.0 * torch.softmax(alpha.detach(), -1) / alpha.shape[0])
    manual = sum(torch.log(torch.exp(a.detach()).sum(-1)).mean() for a in net.alpha_parameters())
    torch.testing.assert_close(beta_decay(net.alpha_parameters()), manual)
    # off by default, and never on beta's group
    assert float(optimizer.penalty(ArchGroup([], None, regularized=False))) == 0.0


@pytest.mark.parametrize("optimizer", ["darts_1st", "darts_2nd", "milenas"])
def test_gdas_and_beta_decay_search_both_spaces(tmp_path, tiny_search_data, optimizer):
    from stretchnas.search.runner import SearchRun

    for op_space, mode in (("nb201", "stretchable"), ("darts", "darts")):
        settings = search_settings(
            op_space,
            mode,
            optimizer=optimizer,
            sampling="gdas",
            epochs=2,
            max_steps_per_epoch=1,
            snapshot_epochs=[2],
            split_scheme="three_way",
            beta_decay={"lambda_max": 50.0, "ramp_epochs": 100},
        )
        out = tmp_path / f"{op_space}-{optimizer}"
        genotype = SearchRun("base", settings, tiny_search_data, out, 0).run(False)
        assert genotype is not None and (out / "genotype.json").exists()


# ----------------------------------------------------------------------------- PC-DARTS


def straightforward_shuffle(x, groups):
    """out[:, i * groups + g] = x[:, g * (C / groups) + i], index by index."""
    c = x.shape[1]
    out = torch.empty_like(x)
    for g in range(groups):
        for i in range(c // groups):
            out[:, i * groups + g] = x[:, g * (c // groups) + i]
    return out


@pytest.mark.parametrize(("space", "stride"), [("darts", 1), ("darts", 2), ("nb201", 1)])
def test_partial_channels_match_the_straightforward_formula_and_k1_is_the_full_mixed_op(space, stride):
    from stretchnas.method.spaces import candidate_ops
    from stretchnas.method.supernet import EdgeOptions, MixedEdge

    torch.manual_seed(0)
    op_names = candidate_ops(space, with_none=True)
    x = torch.randn(2, 8, 8, 8, dtype=torch.double)
    weights = torch.rand(len(op_names), dtype=torch.double)
    for partial in (1, 4):
        edge = MixedEdge(op_names, 8, stride, space, EdgeOptions(partial)).double()
        part = 8 // partial
        mixed = sum(weights[k] * op(x[:, :part]) for k, op in zip(edge.op_index, edge.ops))
        if partial == 1:
            expected = mixed  # every channel through every op: DARTS's mixed op
        else:
            rest = x[:, part:] if stride == 1 else torch.nn.functional.max_pool2d(x[:, part:], 2, 2)
            expected = straightforward_shuffle(torch.cat([mixed, rest], 1), partial)
        torch.testing.assert_close(edge(x, torch.relu(x), weights), expected)


def test_edge_normalisation_is_a_softmax_over_each_nodes_incoming_edges():
    settings = search_settings(
        "darts", "darts", pc_darts={"partial_channels": 2, "edge_normalization": True}, channels=8
    )
    torch.manual_seed(0)
    net = build_search_network(settings)
    for p in net.edge_norm_parameters():
        p.data.normal_()
    normed = net.normalized_edge_weights("normal")
    for node in net.topology.nodes:
        incoming = [e for e, (_, j) in enumerate(net.topology.edges) if j == node]
        torch.testing.assert_close(normed[incoming], torch.softmax(net.edge_norm["normal"].detach()[incoming], 0))
    torch.testing.assert_close(net.mixed_weights("normal"), torch.softmax(net.alpha["normal"], -1) * normed[:, None])
    weights = {id(p) for p in net.weight_parameters()}
    assert len(net.arch_parameters()) == 4 and not weights & {id(p) for p in net.edge_norm_parameters()}


def test_the_warm_up_epochs_leave_the_architecture_untouched(tiny_search_data):
    from stretchnas.search.optimizers import StepBatches

    settings = search_settings(
        pc_darts={"partial_channels": 2, "edge_normalization": True}, arch_warmup_epochs=1, epochs=3
    )
    net = build_search_network(settings, num_classes=3)
    optimizer = build_search_optimizer("darts_1st", net, settings)
    images = torch.randn(4, 3, 32, 32)
    batch = (images, torch.tensor([0, 1, 2, 0]))
    before = [p.detach().clone() for p in net.arch_parameters()]
    optimizer.start_epoch(0)
    result = optimizer.step(StepBatches(batch, batch, None))
    assert all(torch.equal(a, b) for a, b in zip(before, net.arch_parameters())) and result.val_count == 0
    optimizer.start_epoch(1)
    optimizer.step(StepBatches(batch, batch, None))
    assert all(not torch.equal(a, b) for a, b in zip(before, net.arch_parameters()))

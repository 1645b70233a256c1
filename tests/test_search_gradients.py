"""Architecture gradients of the search optimisers against independent computations (float64)."""

import random

import pytest
import torch
from conftest import REPO
from torch.func import functional_call
from torch.nn import functional as F

from stretchnas.method.supernet import SearchNetwork
from stretchnas.method.topology import build_space
from stretchnas.search import architect
from stretchnas.search.architect import ArchGroup
from stretchnas.search.optimizers import EDAS, StepBatches, build_search_optimizer
from stretchnas.settings.params import load_settings


def settings_for(optimizer, **overrides):
    search = load_settings(REPO / "params.yaml", "smoke", environ={}).experiment("darts_1st_L8").search
    return search.merged({"optimizer": optimizer, **overrides})


def tiny_net(mode="darts", n_nodes=4, seed=0):
    torch.manual_seed(seed)
    net = SearchNetwork(build_space(mode, n_nodes), C=2, layers=3, num_classes=3).double()
    for p in net.arch_parameters():
        torch.nn.init.normal_(p, std=0.3)
    return net


def batch(seed, n=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 8, 8, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


@pytest.mark.parametrize("mode, n_nodes", [("darts", 4), ("stretchable", 6)])
def test_second_order_gradient_matches_finite_differences_of_the_unrolled_objective(mode, n_nodes):
    net = tiny_net(mode, n_nodes)
    train, val = batch(1), batch(2)
    w_opt = torch.optim.SGD(net.weight_parameters(), lr=0.1, momentum=0.9, weight_decay=3e-4)
    # give SGD a momentum buffer, as after some steps
    F.cross_entropy(net(batch(3)[0]), batch(3)[1]).backward()
    w_opt.step()
    net.zero_grad()
    eta = 0.1
    params = net.arch_parameters()
    # DARTS's r = 0.01 finite-difference step crosses ReLU/max-pool kinks on a network this small;
    # a small r checks the implementation itself (at r = 0.01 the same code is 17% off here).
    (grads,), _ = architect.unrolled(net, [ArchGroup(params, val, False)], train, lambda g: 0.0, w_opt, eta, r=1e-6)

    names, weights = zip(*net.named_weight_parameters())
    buffers = {n: b.clone() for n, b in net.named_buffers()}
    mu, wd = 0.9, 3e-4
    moments = [w_opt.state[w]["momentum_buffer"] * mu for w in weights]

    def unrolled_objective():
        # L_val(w - eta (mu m + grad_w L_tr(w, a) + wd w), a), w' computed with a graph through a
        out = functional_call(net, {**buffers}, (train[0],))
        g = torch.autograd.grad(F.cross_entropy(out, train[1]), weights, create_graph=True)
        w_prime = [w - eta * (m + gw + wd * w) for w, m, gw in zip(weights, moments, g)]
        logits = functional_call(net, {**buffers, **dict(zip(names, w_prime))}, (val[0],))
        return F.cross_entropy(logits, val[1])

    h = 1e-5
    for p, g in zip(params, grads):
        for index in [(0, 0), (1, 2), (p.shape[0] - 1, p.shape[-1] - 1)] if p.dim() == 2 else [(0,), (3,)]:
            with torch.no_grad():
                p[index] += h
            up = unrolled_objective().item()
            with torch.no_grad():
                p[index] -= 2 * h
            down = unrolled_objective().item()
            with torch.no_grad():
                p[index] += h
            numeric = (up - down) / (2 * h)
            assert g[index].item() == pytest.approx(numeric, rel=1e-3, abs=1e-7), (index, g[index].item(), numeric)


@pytest.mark.parametrize("mode, n_nodes", [("darts", 4), ("stretchable", 6)])
def test_the_exact_hessian_vector_product_equals_the_finite_difference_at_small_r(mode, n_nodes):
    """`hessian: exact` (double backward) against DARTS's central difference, at r small enough to stay off
    ReLU and max-pool kinks; with stretchable cells alpha and beta are two groups on their own batches."""
    results = []
    for hessian, r in (("finite_difference", 1e-6), ("exact", 0.01)):
        net = tiny_net(mode, n_nodes)
        w_opt = torch.optim.SGD(net.weight_parameters(), lr=0.1, momentum=0.9, weight_decay=3e-4)
        F.cross_entropy(net(batch(3)[0]), batch(3)[1]).backward()
        w_opt.step()
        net.zero_grad()
        groups = [ArchGroup(net.alpha_parameters(), batch(2), False)]
        if net.beta_parameters():
            groups.append(ArchGroup(net.beta_parameters(), batch(4), True))
        grads, _ = architect.unrolled(net, groups, batch(1), lambda g: 0.0, w_opt, 0.1, r=r, hessian=hessian)
        results.append(grads)
    for fd_group, exact_group in zip(*results):
        for fd, exact in zip(fd_group, exact_group):
            torch.testing.assert_close(exact, fd, rtol=1e-5, atol=1e-9)


def test_the_exact_hessian_vector_product_skips_weights_a_gdas_forward_left_unused():
    """Under GDAS an op not drawn in the training forward gets no weight gradient; the double backward still
    needs a (zero) term for it."""
    net = tiny_net("darts", 4)
    net.sampling = "gdas"
    w_opt = torch.optim.SGD(net.weight_parameters(), lr=0.1, momentum=0.9, weight_decay=3e-4)
    groups = [ArchGroup(net.alpha_parameters(), batch(2), False)]
    (grads,), _ = architect.unrolled(net, groups, batch(1), lambda g: 0.0, w_opt, 0.1, hessian="exact")
    assert all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("form", ["paper", "code"])
def test_milenas_gradient_is_the_weighted_sum_of_the_two_gradients(form):
    net = tiny_net("stretchable", 4)
    train, val_a, val_b = batch(1), batch(2), batch(3)
    lam = 0.3
    reg = lambda: 10 * sum(p.square().sum() for p in net.beta_parameters())  # noqa: E731  any beta-only term
    groups = [ArchGroup(net.alpha_parameters(), val_a, False), ArchGroup(net.beta_parameters(), val_b, True)]
    penalty = lambda group: reg() if group.regularized else 0.0  # noqa: E731
    grads, _ = architect.milenas(net, groups, train, penalty, lam, form)

    def grad_of(loss, params):
        return torch.autograd.grad(loss, params)

    g_tr_alpha = grad_of(F.cross_entropy(net(train[0]), train[1]), net.alpha_parameters())
    g_tr_beta = grad_of(F.cross_entropy(net(train[0]), train[1]), net.beta_parameters())
    g_val_alpha = grad_of(F.cross_entropy(net(val_a[0]), val_a[1]), net.alpha_parameters())
    g_val_beta = grad_of(F.cross_entropy(net(val_b[0]), val_b[1]) + reg(), net.beta_parameters())
    a_tr, a_val = (1.0, lam) if form == "paper" else (lam, 1.0)
    for got, tr, va in zip(grads[0] + grads[1], g_tr_alpha + g_tr_beta, g_val_alpha + g_val_beta):
        assert torch.allclose(got, a_tr * tr + a_val * va, atol=1e-12)


def test_first_order_gradients_skip_the_weight_gradients():
    net = tiny_net("output_pairs", 4)
    grads, _ = architect.first_order(net, [ArchGroup(net.arch_parameters(), batch(1), True)], lambda g: 0.0)
    assert all(p.grad is None for p in net.weight_parameters())
    loss = F.cross_entropy(net(batch(1)[0]), batch(1)[1])
    for got, want in zip(grads[0], torch.autograd.grad(loss, net.arch_parameters())):
        assert torch.allclose(got, want)


def count_op_calls(net):
    """Hooks on every leaf module of every op (ReLU-first ops are entered through .body)."""
    calls = {}
    handles = []
    for c, cell in enumerate(net.cells):
        for e, edge in cell.edges.items():
            for k, op in zip(edge.op_index, edge.ops):

                def hook(module, args, out, key=(c, int(e), k)):
                    calls[key] = calls.get(key, 0) + 1

                leaves = [m for m in op.modules() if not list(m.children())] or [op]
                handles.extend(leaf.register_forward_hook(hook) for leaf in leaves)
    return calls, handles


def test_edas_runs_one_op_per_clamped_edge_and_updates_one_alpha_row_per_cell_type():
    torch.manual_seed(0)
    net = SearchNetwork(build_space("darts", 4), C=2, layers=3, num_classes=3)
    with torch.no_grad():
        for p in net.alpha_parameters():
            p.normal_(std=1.0)
            p[:, 0] = -10.0  # keep `none` out of the argmax so every clamped edge runs one op
    settings = settings_for("edas")
    strategy = build_search_optimizer("edas", net, settings)
    assert isinstance(strategy, EDAS)
    for step in range(3):
        before = {k: p.detach().clone() for k, p in net.alpha.items()}
        strategy.before_step()
        relaxed = dict(strategy.relaxed)
        calls, handles = count_op_calls(net)
        net(batch(step)[0].float(), relaxed=relaxed)
        for h in handles:
            h.remove()
        for c, cell in enumerate(net.cells):
            cell_type = "reduce" if cell.reduction else "normal"
            for e, edge in cell.edges.items():
                ran = [k for k in edge.op_index if calls.get((c, int(e), k))]
                # parameter-free ops may reuse the output another edge of the same node computed
                own = [k for k, key in zip(edge.op_index, edge.share_key) if key is None]
                if int(e) == relaxed[cell_type]:
                    assert set(own) <= set(ran)  # the relaxed edge runs its whole mixture
                else:
                    best = int(net.alpha[cell_type][int(e)].argmax())
                    assert set(ran) <= {best}  # a clamped edge never runs another op
                    if best in own:
                        assert ran == [best]
        strategy.before_step = lambda: None  # keep the edges drawn above for the real step
        train, val = [(x.float(), y) for x, y in (batch(10 + step), batch(20 + step))]
        strategy.step(StepBatches(train, val, None))
        del strategy.before_step
        for cell_type, p in net.alpha.items():
            changed = (p.detach() != before[cell_type]).any(dim=1).nonzero().flatten().tolist()
            assert changed == [relaxed[cell_type]], (cell_type, changed, relaxed)


def test_edas_weight_decay_is_adams_l2_term_on_the_relaxed_row():
    """SparseAdam has no weight decay; EDAS adds wd * alpha to the relaxed row's gradient by hand. Adam is
    elementwise, so on that row the result must equal torch.optim.Adam(weight_decay=wd) fed the same
    gradient; every other row must stay where it was (lazy updates)."""
    torch.manual_seed(0)
    net = SearchNetwork(build_space("darts", 4), C=2, layers=3, num_classes=3)
    settings = settings_for("edas", arch={"lr": 0.05, "betas": [0.5, 0.999], "weight_decay": 0.3, "init_std": 1e-3})
    with torch.no_grad():  # large alpha and small gradients: the decay term is a visible part of each update
        for p in net.alpha_parameters():
            p.normal_()
    edas = build_search_optimizer("edas", net, settings)
    edas.relaxed = {"normal": 2, "reduce": 9}
    twin = {c: torch.nn.Parameter(p.detach().clone()) for c, p in net.alpha.items()}
    adam = torch.optim.Adam(twin.values(), lr=0.05, betas=(0.5, 0.999), weight_decay=0.3)
    start = {c: p.detach().clone() for c, p in net.alpha.items()}
    for _ in range(3):
        grads = [0.1 * torch.randn_like(p) for p in net.alpha_parameters()]
        edas.apply_arch_gradients(edas.groups(StepBatches(None, None, None)), [grads])
        for p, g in zip(twin.values(), grads):
            p.grad = g
        adam.step()
    for cell_type, row in edas.relaxed.items():
        # SparseAdam and Adam round differently (~2e-7); a missing or doubled decay term moves the row ~1e-2
        assert torch.allclose(net.alpha[cell_type].detach()[row], twin[cell_type].detach()[row], rtol=0, atol=2e-6)
        assert not torch.equal(net.alpha[cell_type].detach()[row], start[cell_type][row])
        others = [r for r in range(start[cell_type].shape[0]) if r != row]
        assert torch.equal(net.alpha[cell_type].detach()[others], start[cell_type][others])


@pytest.mark.parametrize("optimizer", ["darts_1st", "darts_2nd", "milenas", "edas"])
def test_every_optimiser_steps_the_same_with_recomputed_cells(optimizer):
    """Recomputation keeps only cell inputs; the second-order step's functional forwards must keep
    their activations (recomputed in backward, they would run on the module's own weights)."""
    results = []
    for recompute in ("none", "cells"):
        net = tiny_net("stretchable", 4)
        net.recompute = recompute
        search = settings_for(optimizer, topology={"mode": "stretchable"}, beta_data="shared")
        step = build_search_optimizer(optimizer, net, search)
        random.seed(0)  # EDAS draws its relaxed edges with Python's random
        step.step(StepBatches(batch(1), batch(2), None))
        results.append([p.detach().clone() for p in net.arch_parameters() + net.weight_parameters()])
    for plain, recomputed in zip(*results):
        assert torch.allclose(plain, recomputed, atol=1e-10)


@pytest.mark.parametrize("optimizer", ["darts_1st", "milenas"])
@pytest.mark.parametrize("target", ["weights", "arch", "none"])
def test_the_search_clips_exactly_the_gradients_grad_clip_target_names(optimizer, target):
    """A clip far below every gradient's norm shows which gradients were clipped: the weights' are left in
    .grad by the weight step, the architecture's are read as the Adam step sees them."""
    net, clip = tiny_net("stretchable", 4), 1e-4
    search = settings_for(
        optimizer,
        topology={"mode": "stretchable"},
        beta_data="shared",
        grad_clip_target=target,
        weights={"grad_clip": clip},
    )
    step = build_search_optimizer(optimizer, net, search)
    seen = []
    adam_step = step.alpha_optimizer.step
    step.alpha_optimizer.step = lambda: (seen.append([p.grad.clone() for p in net.arch_parameters()]), adam_step())
    step.step(StepBatches(batch(1), batch(2), None))
    arch_norm = float(torch.nn.utils.get_total_norm(seen[0]))
    weight_norm = float(torch.nn.utils.get_total_norm([p.grad for p in net.weight_parameters() if p.grad is not None]))
    assert (arch_norm <= clip * (1 + 1e-6)) == (target == "arch"), arch_norm
    assert (weight_norm <= clip * (1 + 1e-6)) == (target == "weights"), weight_norm


def test_clipping_the_architecture_gradients_equals_torchs_clip_of_them_in_grad():
    net = tiny_net("stretchable", 4)
    step = build_search_optimizer(
        "darts_1st", net, settings_for("darts_1st", grad_clip_target="arch", weights={"grad_clip": 0.01})
    )
    grads = [[torch.randn(p.shape, dtype=p.dtype) for p in net.arch_parameters()]]
    clipped = step.clip_arch(grads)[0]
    copies = [p.detach().clone().requires_grad_() for p in net.arch_parameters()]
    for copy, g in zip(copies, grads[0]):
        copy.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(copies, 0.01)
    for copy, g in zip(copies, clipped):
        assert torch.allclose(copy.grad, g, rtol=1e-12, atol=0)


def test_a_search_at_the_default_clip_target_keeps_the_identity_runs_recorded_before_the_setting():
    search = settings_for("darts_1st")
    assert search.grad_clip_target == "weights" and "grad_clip_target" not in search.identity()
    assert search.merged({"grad_clip_target": "none"}).identity()["grad_clip_target"] == "none"

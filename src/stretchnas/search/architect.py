"""Architecture gradients: DARTS first and second order, MiLeNAS (docs/method.md §5).

    first order:   g = grad_a L_val(w, a)
    second order:  g = grad_a L_val(w', a) - eta * H v,  w' = w - eta * grad_w L_tr(w, a),
                   v = grad_w' L_val(w', a),  H v = grad_a (grad_w L_tr(w, a) . v)
    MiLeNAS:       g = grad_a L_tr(w, a) + lambda * grad_a L_val(w, a)   (SC Eq. 18; `form: code` puts lambda on L_tr)

Beta takes the same gradient on its own batch (D_val_beta; alpha's with `beta_data: shared`), with the
regulariser lambda * r(beta) in its loss (method/regularizer.py).

Every function returns gradients for the parameters it is given and never
back-propagates into the network weights when it does not need them
(torch.autograd.grad with the architecture parameters as inputs only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.func import functional_call
from torch.nn import functional as F

Batch = tuple[torch.Tensor, torch.Tensor]
HESSIANS = ("finite_difference", "exact")


@dataclass
class ArchGroup:
    """Architecture parameters updated together, the batch their validation loss uses,
    and whether the topology regulariser joins that loss (it does for beta)."""

    params: list[torch.nn.Parameter]
    batch: Batch
    regularized: bool


def task_loss(net, batch: Batch, **forward_kw) -> tuple[torch.Tensor, torch.Tensor]:
    logits = net(batch[0], **forward_kw)
    return F.cross_entropy(logits, batch[1]), logits


def _grads(loss, params, create_graph: bool = False):
    return list(torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True, create_graph=create_graph))


def first_order(net, groups: list[ArchGroup], penalty: Callable, forward_kw=None) -> tuple[list, dict]:
    """DARTS first order: grad of L_val(w, alpha) (+ lambda r(beta) for beta)."""
    grads, stats = [], {}
    for group in groups:
        loss, logits = task_loss(net, group.batch, **(forward_kw or {}))
        objective = loss + penalty(group)
        grads.append(_grads(objective, group.params))
        stats.setdefault("val", (loss.detach(), logits.detach(), group.batch[1]))
    return grads, stats


def milenas(net, groups: list[ArchGroup], train_batch: Batch, penalty: Callable, lam: float, form: str):
    """MiLeNAS: paper Eq. 18, grad L_tr + lam * grad L_val; form='code' puts lam on L_tr instead."""
    all_params = [p for g in groups for p in g.params]
    train_loss, _ = task_loss(net, train_batch)
    train_grads = dict(zip(map(id, all_params), _grads(train_loss, all_params)))
    w_train, w_val = (1.0, lam) if form == "paper" else (lam, 1.0)
    grads, stats = [], {}
    for group in groups:
        loss, logits = task_loss(net, group.batch)
        objective = loss + penalty(group)
        val_grads = _grads(objective, group.params)
        grads.append([w_train * train_grads[id(p)] + w_val * g for p, g in zip(group.params, val_grads)])
        stats.setdefault("val", (loss.detach(), logits.detach(), group.batch[1]))
    return grads, stats


def _buffers(net):
    # Virtual forwards get their own copy of BN running statistics, as DARTS's
    # unrolled model copy does, so they never move the real model's buffers.
    return {name: b.clone() for name, b in net.named_buffers()}


def unrolled(
    net,
    groups: list[ArchGroup],
    train_batch: Batch,
    penalty: Callable,
    w_optimizer: torch.optim.SGD,
    eta: float,
    r: float = 0.01,
    hessian: str = "finite_difference",
) -> tuple[list, dict]:
    """DARTS second order (docs/method.md §5; quark0/darts cnn/architect.py).

    w' = w - eta (mu * momentum_buffer + grad_w L_tr(w, a) + wd * w)
    grad_a = grad_a L_val(w', a) - eta * H v, v = grad_w' L_val(w', a), where H v = grad_a (grad_w L_tr(w, a) . v)
    is DARTS's finite difference [grad_a L_tr(w+, a) - grad_a L_tr(w-, a)] / (2 eps), w+- = w +- eps v,
    eps = r / ||v|| (`hessian="finite_difference"`), or with `hessian="exact"` the product itself, by double
    backward through grad_w L_tr (one backward pass instead of two forward and backward passes).
    """
    if hessian not in HESSIANS:
        raise ValueError(f"hessian {hessian!r}: not one of {HESSIANS}")
    exact = hessian == "exact"
    names, weights = zip(*net.named_weight_parameters())
    group_opts = w_optimizer.param_groups[0]
    momentum, wd = group_opts["momentum"], group_opts["weight_decay"]
    # the exact product differentiates this forward twice
    with net.functional_forwards(twice_differentiable=exact):
        train_loss = F.cross_entropy(functional_call(net, _buffers(net), (train_batch[0],)), train_batch[1])
    g_train = _grads(train_loss, weights, create_graph=exact)  # GDAS: weights of ops not drawn get zeros
    with torch.no_grad():
        w_prime = []
        for w, g in zip(weights, g_train):
            buffer = w_optimizer.state.get(w, {}).get("momentum_buffer")
            moment = buffer * momentum if buffer is not None else torch.zeros_like(w)
            w_prime.append((w - eta * (moment + g + wd * w)).requires_grad_(True))

    def call(weight_values, x):
        with net.functional_forwards():
            return functional_call(net, {**_buffers(net), **dict(zip(names, weight_values))}, (x,))

    grads, stats = [], {}
    for group in groups:
        logits = call(w_prime, group.batch[0])
        loss = F.cross_entropy(logits, group.batch[1])
        objective = loss + penalty(group)
        both = torch.autograd.grad(objective, [*group.params, *w_prime], allow_unused=True, materialize_grads=True)
        d_arch, d_w = list(both[: len(group.params)]), both[len(group.params) :]
        stats.setdefault("val", (loss.detach(), logits.detach(), group.batch[1]))
        if exact:
            hvp = torch.autograd.grad(
                g_train,
                group.params,
                grad_outputs=list(d_w),
                retain_graph=True,
                allow_unused=True,
                materialize_grads=True,
            )
            grads.append([da - eta * h for da, h in zip(d_arch, hvp)])
            continue
        eps = r / torch.cat([g.flatten() for g in d_w]).norm()
        with torch.no_grad():
            w_plus = [w + eps * d for w, d in zip(weights, d_w)]
            w_minus = [w - eps * d for w, d in zip(weights, d_w)]
        g_plus = _grads(F.cross_entropy(call(w_plus, train_batch[0]), train_batch[1]), group.params)
        g_minus = _grads(F.cross_entropy(call(w_minus, train_batch[0]), train_batch[1]), group.params)
        grads.append([da - eta * (gp - gm) / (2 * eps) for da, gp, gm in zip(d_arch, g_plus, g_minus)])
    return grads, stats

"""Several searches per step, for measuring whether seeds can share kernel calls (benchmarks/README.md).

Two forms of one DARTS first-order step over S searches, each with its own weights, architecture and batches:

* `sequential`: each search's own optimiser steps in turn, what `stretchnas batch` does in one process;
* `vmap`: the S supernets' parameters stacked along a leading dimension and run through torch.func
  (functional_call under vmap), so every kernel call serves all S. torch's batching rules turn a
  convolution over S stacked weights into one grouped convolution and batch norm into a wider one. The
  SGD and Adam updates are elementwise, so torch.optim on the stacked tensors updates each search as its own
  optimiser would; the weights' gradient norm is clipped per search.

The vmap form exists to be measured: it computes each member's step exactly (tests/test_seed_batching.py, in
float64), but on a 2-core CPU at the sizes where it should pay it is slower than the sequential form, so no
search runs it (docs/method.md §9). It covers what that measurement needs: first order, mixture sampling,
no topology variables, the plain kernels (torch.func cannot batch the custom autograd functions).
"""

from __future__ import annotations

import copy

import torch
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F

from stretchnas.kernels.switch import plain_kernels
from stretchnas.method.supernet import Supernet
from stretchnas.settings.types import SearchSettings

FORMS = ("sequential", "vmap")


class SeedBatchError(ValueError):
    pass


def check_stackable(net: Supernet, settings: SearchSettings) -> None:
    """SeedBatchError unless the vmap form below computes this search's step."""
    unsupported = {
        "optimizer": (settings.optimizer, "darts_1st"),
        "sampling": (settings.sampling, "mixture"),
        "grad_clip_target": (settings.grad_clip_target, "weights"),
        "recompute": (settings.recompute, "none"),
        "channels_last": (settings.channels_last, False),
    }
    wrong = [f"{key}={value}" for key, (value, wanted) in unsupported.items() if value != wanted]
    if net.topology.has_beta or net.edge_norm:
        wrong.append("topology variables or edge normalisation")
    if settings.beta_decay.lambda_max > 0 and settings.beta_decay.ramp_epochs > 0:
        wrong.append("beta-decay")
    if wrong:
        raise SeedBatchError(
            "the vmap form measures DARTS first order with mixture sampling, weights' gradient clipping, no "
            "recomputation, NCHW and no topology variables; not " + ", ".join(wrong)
        )


class StackedFirstOrder:
    """One DARTS first-order step (weights and alpha, in `settings.update_order`) of every member at once."""

    def __init__(self, nets: list[Supernet], settings: SearchSettings):
        for net in nets:
            check_stackable(net, settings)
        self.settings, self.members = settings, len(nets)
        params, self.buffers = stack_module_state(nets)
        self.params = {name: torch.nn.Parameter(value) for name, value in params.items()}
        alpha_names = {f"alpha.{cell_type}" for cell_type in nets[0].cell_types}
        self.alpha = [self.params[name] for name in sorted(alpha_names)]
        self.weights = [p for name, p in self.params.items() if name not in alpha_names]
        self.base = copy.deepcopy(nets[0]).to("meta")
        w, a = settings.weights, settings.arch
        self.w_optimizer = torch.optim.SGD(
            self.weights, lr=w.lr, momentum=w.momentum, weight_decay=w.weight_decay, nesterov=w.nesterov
        )
        self.alpha_optimizer = torch.optim.Adam(self.alpha, lr=a.lr, betas=tuple(a.betas), weight_decay=a.weight_decay)

    def _losses(self, images: torch.Tensor, labels: torch.Tensor, arch_grad: bool) -> torch.Tensor:
        """Each member's cross-entropy on its own batch: images (S, B, 3, H, W), labels (S, B)."""

        def loss(params, buffers, x, y):
            logits = functional_call(self.base, (params, buffers), (x,), {"arch_grad": arch_grad})
            return F.cross_entropy(logits, y)

        with plain_kernels():
            return vmap(loss, in_dims=(0, 0, 0, 0), randomness="error")(self.params, self.buffers, images, labels)

    def weight_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        losses = self._losses(*batch, arch_grad=False)
        grads = torch.autograd.grad(losses.sum(), self.weights)  # the sum's gradient: each member's own
        norms = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads]).sum(0).sqrt()  # per member
        scale = (self.settings.weights.grad_clip / (norms + 1e-6)).clamp(max=1.0)
        for p, g in zip(self.weights, grads):
            p.grad = g * scale.view(-1, *([1] * (g.dim() - 1)))
        self.w_optimizer.step()
        self.w_optimizer.zero_grad(set_to_none=True)
        return losses.detach()

    def arch_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        losses = self._losses(*batch, arch_grad=True)
        for p, g in zip(self.alpha, torch.autograd.grad(losses.sum(), self.alpha)):
            p.grad = g
        self.alpha_optimizer.step()
        self.alpha_optimizer.zero_grad(set_to_none=True)
        return losses.detach()

    def step(self, train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor]) -> None:
        if self.settings.update_order == "arch_first":
            self.arch_step(val)
            self.weight_step(train)
        else:
            self.weight_step(train)
            self.arch_step(val)

    def member_state(self, member: int) -> dict[str, torch.Tensor]:
        """Member `member`'s parameters and buffers by name, as its own network's state_dict names them."""
        return {name: value[member].detach() for name, value in {**self.params, **self.buffers}.items()}

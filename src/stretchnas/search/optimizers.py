"""Search optimisers by name: one search step = an architecture step and a weight step.

Any optimiser combines with any topology mode: an optimiser only sees the
network's architecture parameters (alpha, and beta when the mode has one).
The base class holds what they share (the weight step, the Adam steps on alpha
and beta, the update order); each subclass says how the architecture gradient
is formed (docs/method.md §5, §7).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from stretchnas.method.regularizer import passive_aggressive
from stretchnas.method.supernet import SearchNetwork
from stretchnas.search import architect
from stretchnas.search.architect import ArchGroup, Batch
from stretchnas.settings.types import SearchSettings


@dataclass
class StepBatches:
    train: Batch
    val_alpha: Batch
    val_beta: Batch | None  # None: beta shares D_val_alpha


@dataclass
class StepResult:
    train_loss: float
    train_correct: int
    train_count: int
    val_loss: float
    val_correct: int
    val_count: int
    regularizer: float


class SearchOptimizer(ABC):
    """One search step: SGD on the weights, Adam on alpha (and beta), in the configured order."""

    name: str

    def __init__(self, net: SearchNetwork, settings: SearchSettings):
        self.net = net
        self.settings = settings
        # listed once: walking the module tree for them every step was 2% of a small NB201 step
        self.weights = net.weight_parameters()
        w = settings.weights
        self.w_optimizer = torch.optim.SGD(
            self.weights,
            lr=w.lr,
            momentum=w.momentum,
            weight_decay=w.weight_decay,
            nesterov=w.nesterov,
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.w_optimizer, T_max=settings.epochs, eta_min=w.lr_min
        )
        self.epoch = 0
        self.alpha_optimizer = self._arch_optimizer(self.alpha_group_parameters())
        self.beta_optimizer = self._arch_optimizer(net.beta_parameters()) if net.beta_parameters() else None

    def _arch_optimizer(self, params):
        a = self.settings.arch
        return torch.optim.Adam(params, lr=a.lr, betas=tuple(a.betas), weight_decay=a.weight_decay)

    # ----------------------------------------------------------------- pieces

    def regularizer(self) -> torch.Tensor:
        if not self.net.topology.has_beta:
            return torch.zeros(())
        reg = self.settings.regularizer
        total = sum(
            passive_aggressive(self.net.topology, self.net.topology_weights, self.net.beta[cell_type], reg.outer_sum)
            for cell_type in self.net.cell_types
        )
        return reg.weight * total

    def penalty(self, group: ArchGroup) -> torch.Tensor:
        """What joins a group's validation loss: the topology regulariser for beta, beta-DARTS's decay
        term for alpha where it is on."""
        total = self.regularizer() if group.regularized else torch.zeros(())
        weight = self.beta_decay_weight()
        if weight > 0 and any(p is a for p in group.params for a in self.net.alpha_parameters()):
            total = total + weight * beta_decay(self.net.alpha_parameters())
        return total

    def beta_decay_weight(self) -> float:
        """beta-DARTS's lambda at this epoch: a linear ramp from 0 (0-based epochs, as its code counts)."""
        decay = self.settings.beta_decay
        return decay.lambda_max * self.epoch / decay.ramp_epochs

    def start_epoch(self, epoch: int) -> None:
        """Per-epoch set-up: the epoch for beta-DARTS's ramp, GDAS's temperature."""
        self.epoch = epoch
        if self.settings.sampling == "gdas":
            g, epochs = self.settings.gdas, self.settings.epochs
            self.net.tau = g.tau_max - (g.tau_max - g.tau_min) * epoch / max(epochs - 1, 1)

    def alpha_group_parameters(self) -> list:
        """alpha, and PC-DARTS's edge-normalisation weights where on: one Adam, alpha's batches."""
        return self.net.alpha_parameters() + self.net.edge_norm_parameters()

    def groups(self, batches: StepBatches) -> list[ArchGroup]:
        alpha, beta = self.alpha_group_parameters(), self.net.beta_parameters()
        if not beta:
            return [ArchGroup(alpha, batches.val_alpha, regularized=False)]
        if batches.val_beta is None:
            return [ArchGroup(alpha + beta, batches.val_alpha, regularized=True)]
        return [ArchGroup(alpha, batches.val_alpha, False), ArchGroup(beta, batches.val_beta, True)]

    @abstractmethod
    def arch_gradients(self, batches: StepBatches) -> tuple[list, dict]:
        """Gradients for each ArchGroup of `groups(batches)`, and the validation statistics."""

    def forward_kw(self) -> dict:
        return {}

    def apply_arch_gradients(self, groups: list[ArchGroup], grads: list[list[torch.Tensor]]) -> None:
        for group, group_grads in zip(groups, self.clip_arch(grads)):
            for p, g in zip(group.params, group_grads):
                p.grad = g
        self.alpha_optimizer.step()
        if self.beta_optimizer is not None:
            self.beta_optimizer.step()
        for p in self.net.arch_parameters():
            p.grad = None

    def clip_arch(self, grads: list[list[torch.Tensor]]) -> list[list[torch.Tensor]]:
        """The architecture gradients, their joint norm clipped to weights.grad_clip where
        search.grad_clip_target is `arch` (as torch's clip_grad_norm_ would clip them in .grad)."""
        if self.settings.grad_clip_target != "arch":
            return grads
        total = torch.nn.utils.get_total_norm([g for group in grads for g in group])
        scale = (self.settings.weights.grad_clip / (total + 1e-6)).clamp(max=1.0)
        return [[g * scale for g in group] for group in grads]

    def arch_step(self, batches: StepBatches) -> tuple[float, int, int]:
        groups = self.groups(batches)
        grads, stats = self.arch_gradients(batches)
        self.apply_arch_gradients(groups, grads)
        loss, logits, target = stats["val"]
        return loss.item(), int((logits.argmax(1) == target).sum()), len(target)

    def weight_step(self, batch: Batch) -> tuple[float, int, int]:
        for p in self.weights:  # architecture gradients are never left in .grad (apply_arch_gradients)
            p.grad = None
        logits = self.net(batch[0], arch_grad=False, **self.forward_kw())
        loss = F.cross_entropy(logits, batch[1])
        if not torch.isfinite(loss):
            return float(loss.item()), 0, len(batch[1])
        loss.backward()
        if self.settings.grad_clip_target == "weights":
            torch.nn.utils.clip_grad_norm_(self.weights, self.settings.weights.grad_clip)
        self.w_optimizer.step()
        return loss.item(), int((logits.detach().argmax(1) == batch[1]).sum()), len(batch[1])

    def before_step(self) -> None:  # noqa: B027 (an optional hook)
        """Per-step set-up (EDAS draws its relaxed edges here)."""

    def step(self, batches: StepBatches) -> StepResult:
        self.before_step()
        # PC-DARTS's warm-up: the first epochs train the weights alone (no architecture step, no val batch)
        arch = self.arch_step if self.epoch >= self.settings.arch_warmup_epochs else lambda _: (0.0, 0, 0)
        if self.settings.update_order == "arch_first":
            val = arch(batches)
            train = self.weight_step(batches.train)
        else:
            train = self.weight_step(batches.train)
            val = arch(batches)
        with torch.no_grad():
            reg = float(self.regularizer())
        return StepResult(*train, *val, reg)

    # ----------------------------------------------------------------- state

    def state_dict(self) -> dict:
        return {
            "w_optimizer": self.w_optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "alpha_optimizer": self.alpha_optimizer.state_dict(),
            "beta_optimizer": self.beta_optimizer.state_dict() if self.beta_optimizer else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.w_optimizer.load_state_dict(state["w_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        if self.beta_optimizer is not None:
            self.beta_optimizer.load_state_dict(state["beta_optimizer"])


class DartsFirstOrder(SearchOptimizer):
    name = "darts_1st"

    def arch_gradients(self, batches: StepBatches):
        return architect.first_order(self.net, self.groups(batches), self.penalty, self.forward_kw())


class DartsSecondOrder(SearchOptimizer):
    name = "darts_2nd"

    def arch_gradients(self, batches: StepBatches):
        eta = self.scheduler.get_last_lr()[0]
        return architect.unrolled(
            self.net,
            self.groups(batches),
            batches.train,
            self.penalty,
            self.w_optimizer,
            eta,
            hessian=self.settings.hessian,
        )


class MiLeNAS(SearchOptimizer):
    name = "milenas"

    def arch_gradients(self, batches: StepBatches):
        m = self.settings.milenas
        return architect.milenas(self.net, self.groups(batches), batches.train, self.penalty, m.weight, m.form)


class EDAS(DartsFirstOrder):
    """One uniformly drawn edge per cell type is relaxed each step; all others run their argmax op.

    Only that edge's alpha row is updated: alpha uses a lazy Adam (torch's SparseAdam)
    fed a sparse gradient holding that row alone, with the L2 term of Adam's
    weight_decay added to the row by hand (SparseAdam has none).
    """

    name = "edas"

    def __init__(self, net: SearchNetwork, settings: SearchSettings):
        self.relaxed: dict[str, int] = {}
        self.edge_choices = [e for e, active in enumerate(net.topology.active_edges()) if active]
        super().__init__(net, settings)

    def _arch_optimizer(self, params):
        if params and params[0] is self.net.alpha["normal"]:
            a = self.settings.arch
            return torch.optim.SparseAdam(params, lr=a.lr, betas=tuple(a.betas))
        return super()._arch_optimizer(params)

    def before_step(self) -> None:  # noqa: B027 (an optional hook)
        self.relaxed = {cell_type: random.choice(self.edge_choices) for cell_type in self.net.cell_types}

    def forward_kw(self) -> dict:
        return {"relaxed": self.relaxed}

    def apply_arch_gradients(self, groups, grads) -> None:
        wd = self.settings.arch.weight_decay
        for group, group_grads in zip(groups, self.clip_arch(grads)):
            for p, g in zip(group.params, group_grads):
                cell_type = next((c for c in self.net.cell_types if self.net.alpha[c] is p), None)
                if cell_type is None:
                    p.grad = g
                    continue
                row = self.relaxed[cell_type]
                values = (g[row] + wd * p.detach()[row]).unsqueeze(0)
                index = torch.tensor([[row]], device=p.device)
                p.grad = torch.sparse_coo_tensor(index, values, p.shape, check_invariants=True)
        self.alpha_optimizer.step()
        if self.beta_optimizer is not None:
            self.beta_optimizer.step()
        for p in self.net.arch_parameters():
            p.grad = None


def beta_decay(alphas: list[torch.Tensor]) -> torch.Tensor:
    """beta-DARTS's beta-decay term: per cell type, the mean over edges of logsumexp(alpha_e) (a smooth
    maximum of the edge's alpha), summed over cell types."""
    return sum(torch.logsumexp(alpha, dim=-1).mean() for alpha in alphas)


SEARCH_OPTIMIZERS: dict[str, type[SearchOptimizer]] = {
    cls.name: cls for cls in (DartsFirstOrder, DartsSecondOrder, MiLeNAS, EDAS)
}


def build_search_optimizer(name: str, net: SearchNetwork, settings: SearchSettings) -> SearchOptimizer:
    if name not in SEARCH_OPTIMIZERS:
        raise KeyError(f"unknown search optimizer {name!r}; known: {sorted(SEARCH_OPTIMIZERS)}")
    return SEARCH_OPTIMIZERS[name](net, settings)

"""The weighted sum of an edge's batch-normalised op outputs, keeping only what BN keeps anyway.

A mixed edge computes sum_k w_k * BN_k(z_k), where z_k is op k's output before its final affine-free
batch norm. Written as separate modules, autograd keeps z_k for BN's backward and also BN_k(z_k) for
the product's gradient with respect to w_k: two tensors per op in the architecture step. BN_k(z_k) is
(z_k - mean_k) * invstd_k, cheap to recompute from z_k and the batch statistics, so `normalized_mix`
keeps only z_k and the statistics and recomputes the normalised output in backward. Values, gradients
and running statistics are those of `nn.BatchNorm2d` in training mode followed by the weighted sum
(tests/test_normalized_mix.py checks all three against it).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from stretchnas.kernels.switch import plain_kernels_requested


def fusable(norm: nn.Module) -> bool:
    """Whether `norm` is a batch norm this fusion reproduces (affine-free, in training mode) in a forward that
    builds a graph, outside `plain_kernels`."""
    return (
        isinstance(norm, nn.BatchNorm2d)
        and norm.training
        and not norm.affine
        and torch.is_grad_enabled()
        and not plain_kernels_requested()
    )


def _momentum(norm: nn.BatchNorm2d) -> float:
    # nn.BatchNorm2d's rule: count the batch, then momentum None means a cumulative average
    if norm.track_running_stats and norm.num_batches_tracked is not None:
        norm.num_batches_tracked.add_(1)
        if norm.momentum is None:
            return 1.0 / float(norm.num_batches_tracked)
    return 0.0 if norm.momentum is None else norm.momentum


def _channel(v: torch.Tensor) -> torch.Tensor:
    return v.view(1, -1, 1, 1)


class _NormalizedMix(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weights, eps, running, momenta, *zs):
        out = None
        stats = []
        for k, z in enumerate(zs):
            mean_var = running[2 * k : 2 * k + 2]
            y, mean, invstd = torch.native_batch_norm(z, None, None, *mean_var, True, momenta[k], eps[k])
            stats += [mean, invstd]
            y.mul_(weights[k])
            out = y if out is None else out.add_(y)
        ctx.eps = eps
        ctx.save_for_backward(weights, *zs, *stats)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        weights, *rest = ctx.saved_tensors
        n = len(rest) // 3
        zs, stats = rest[:n], rest[n:]
        want_w, want_z = ctx.needs_input_grad[0], ctx.needs_input_grad[4:]
        grad_w = torch.zeros_like(weights) if want_w else None
        grad_zs = []
        for k, z in enumerate(zs):
            mean, invstd = stats[2 * k], stats[2 * k + 1]
            if want_w:
                normalized = (z - _channel(mean)) * _channel(invstd)
                grad_w[k] = (grad * normalized).sum()
            if want_z[k]:
                grad_zs.append(
                    torch.ops.aten.native_batch_norm_backward(
                        grad * weights[k], z, None, None, None, mean, invstd, True, ctx.eps[k], [True, False, False]
                    )[0]
                )
            else:
                grad_zs.append(None)
        return (grad_w, None, None, None, *grad_zs)


def normalized_mix(weights: torch.Tensor, zs: list[torch.Tensor], norms: list[nn.BatchNorm2d]) -> torch.Tensor:
    """sum_k weights[k] * norms[k](zs[k]) for `fusable` norms, keeping only each z_k for backward.

    `weights` holds one weight per entry of `zs` (it may require grad); running statistics move as
    `norms[k]` would move them."""
    running = [t for norm in norms for t in (norm.running_mean, norm.running_var)]
    momenta = [_momentum(norm) for norm in norms]
    return _NormalizedMix.apply(weights, [norm.eps for norm in norms], running, momenta, *zs)

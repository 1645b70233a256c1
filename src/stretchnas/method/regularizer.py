"""Passive-aggressive regulariser r(beta) on topology variables (docs/method.md §3; paper Eqs. 14-15).

For intermediate node j and each predecessor group i that can select edge (i, j):
q_i = max_S p_i(S) and q_i^j = max_{S containing (i, j)} p_i(S). Then

    r(beta) = sum_j prod_i (1 - q_i^j / q_i)

is zero as soon as one predecessor's most likely subset contains (i, j) (passive)
and positive only for nodes the current topology would leave without input
(aggressive). It depends on beta alone.
"""

from __future__ import annotations

import torch

from stretchnas.method.topology import TopologySpace, TopologyWeights

OUTER_SUMS = ("all_intermediate", "exclude_last")


def passive_aggressive(
    space: TopologySpace, weights: TopologyWeights, beta: torch.Tensor, outer: str = "all_intermediate"
) -> torch.Tensor:
    """r(beta) for one cell type. `outer='exclude_last'` is the paper's literal j < N."""
    if outer not in OUTER_SUMS:
        raise ValueError(f"regularizer.outer_sum: {outer!r} is not allowed; choose one of {list(OUTER_SUMS)}")
    if space.perspective != "output" or not space.has_beta:
        # Input-side and coupled spaces give every node its inputs by construction.
        return beta.new_zeros(()) if beta is not None else torch.zeros(())
    edges = space.edges
    probs = weights.probabilities(beta)
    factors: dict[int, list[torch.Tensor]] = {}
    for group, p in zip(space.variables, probs):
        q = p.max()
        for e in group.edges:
            containing = [k for k, subset in enumerate(group.subsets) if e in subset]
            q_edge = p[containing].max()
            factors.setdefault(edges[e][1], []).append(1 - q_edge / q)
    last = space.nodes[-1]
    total = beta.new_zeros(())
    for j in space.nodes:
        if outer == "exclude_last" and j == last:
            continue
        terms = factors.get(j)
        total = total + (torch.stack(terms).prod() if terms else beta.new_ones(()))
    return total

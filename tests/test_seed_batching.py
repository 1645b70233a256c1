"""The vmap form of several searches per step (measurement.seed_batching) computes each member's own step."""

import copy

import pytest
import torch

from stretchnas.measurement.bench import load_search_defaults
from stretchnas.measurement.seed_batching import SeedBatchError, StackedFirstOrder
from stretchnas.method.networks import build_search_network
from stretchnas.search.optimizers import DartsFirstOrder, StepBatches
from stretchnas.settings.types import Topology

MEMBERS, STEPS, BATCH = 3, 3, 4


def search_settings(space: str):
    search = load_search_defaults().replace(channels=4, layers=3, channels_last=False, recompute="none")
    if space == "nb201":  # AutoDL's DARTS-V1 order: the weight step first
        search = search.replace(op_space="nb201", cells_per_stage=1, intermediate_nodes=3, update_order="weights_first")
    return search


def batches(generator, side: int):
    return [
        (torch.randn(BATCH, 3, side, side, generator=generator, dtype=torch.float64),
         torch.randint(0, 10, (BATCH,), generator=generator))
        for _ in range(2)
    ]  # fmt: skip


@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_each_member_of_a_stacked_step_is_its_own_search(space):
    search = search_settings(space)
    nets = []
    for member in range(MEMBERS):
        torch.manual_seed(member)
        nets.append(build_search_network(search).double())
    alone = [DartsFirstOrder(copy.deepcopy(net), search) for net in nets]
    stacked = StackedFirstOrder(nets, search)
    generator = torch.Generator().manual_seed(0)
    for _ in range(STEPS):
        per_member = [batches(generator, 8) for _ in range(MEMBERS)]
        for optimizer, (train, val) in zip(alone, per_member):
            optimizer.step(StepBatches(train, val, None))
        train = tuple(torch.stack([b[0][k] for b in per_member]) for k in range(2))
        val = tuple(torch.stack([b[1][k] for b in per_member]) for k in range(2))
        stacked.step(train, val)
    for member, optimizer in enumerate(alone):
        state = stacked.member_state(member)
        expected = optimizer.net.state_dict()
        moved = 0
        for name, value in expected.items():
            if value.dtype == torch.float64:
                torch.testing.assert_close(state[name], value, rtol=1e-10, atol=1e-12, msg=f"member {member}: {name}")
                moved += int(not torch.equal(value, nets[member].state_dict()[name]))
        assert moved > len(expected) // 2  # the steps changed the weights, alpha and running statistics


def test_the_stacked_form_refuses_a_search_it_does_not_compute():
    search = search_settings("nb201").replace(topology=Topology(mode="stretchable"))
    with pytest.raises(SeedBatchError, match="topology variables"):
        StackedFirstOrder([build_search_network(search)], search)

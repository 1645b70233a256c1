"""Search networks by op space: the one place where a search's settings become a supernet."""

from __future__ import annotations

from collections.abc import Callable

from stretchnas.method.nb201.network import NB201SearchNetwork
from stretchnas.method.supernet import EdgeOptions, SearchNetwork, Supernet
from stretchnas.method.topology import TopologySpace, build_space
from stretchnas.settings.types import SearchSettings


def _edge_options(search: SearchSettings) -> EdgeOptions:
    return EdgeOptions(search.pc_darts.partial_channels, search.simplify, search.kernel_norm)


def _darts_network(space: TopologySpace, search: SearchSettings, num_classes: int, imagenet: bool) -> Supernet:
    return SearchNetwork(
        space,
        C=search.channels,
        num_classes=num_classes,
        layers=search.layers,
        op_space=search.op_space,
        arch_init_std=search.arch.init_std,
        channels_last=search.channels_last,
        recompute=search.recompute,
        imagenet=imagenet,
        sampling=search.sampling,
        edge_normalization=search.pc_darts.edge_normalization,
        edge_options=_edge_options(search),
    )


def _nb201_network(space: TopologySpace, search: SearchSettings, num_classes: int, imagenet: bool) -> Supernet:
    return NB201SearchNetwork(
        space,
        C=search.channels,
        N=search.cells_per_stage,
        num_classes=num_classes,
        arch_init_std=search.arch.init_std,
        channels_last=search.channels_last,
        recompute=search.recompute,
        sampling=search.sampling,
        edge_normalization=search.pc_darts.edge_normalization,
        edge_options=_edge_options(search),
    )


# op space -> (topology space, search settings, classes, ImageNet-sized input) -> supernet
SEARCH_NETWORKS: dict[str, Callable[[TopologySpace, SearchSettings, int, bool], Supernet]] = {
    "darts": _darts_network,
    "nb201": _nb201_network,
}


def build_search_network(search: SearchSettings, num_classes: int = 10, imagenet: bool = False) -> Supernet:
    """The supernet a search's settings describe (on ImageNet-sized input with `imagenet`)."""
    topology = search.topology
    space = build_space(
        topology.mode,
        search.intermediate_nodes,
        k=topology.k,
        allow_empty_output=topology.allow_empty_output,
        op_space=search.op_space,
    )
    return SEARCH_NETWORKS[search.op_space](space, search, num_classes, imagenet)

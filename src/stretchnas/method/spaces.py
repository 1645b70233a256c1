"""The operation spaces' cells as the settings and the topology modes see them (no torch: the workflow's
plan and the settings' validation read it)."""

# (inputs of a cell, nodes after them or None where the setting intermediate_nodes says)
CELL_SHAPES = {"darts": (2, None), "nb201": (1, 3)}
# Topology modes whose meaning needs DARTS's two-input cell: the hand rule picks two outgoing edges per
# node (darts_output); input pairs need two inputs for NB201's first node.
DARTS_CELL_ONLY = ("darts_output", "input_pairs")


def modes_for(op_space: str, modes) -> list[str]:
    """The topology modes of `modes` that apply to `op_space`'s cell."""
    return [m for m in modes if op_space == "darts" or m not in DARTS_CELL_ONLY]


# Candidate lists in the reference order (alpha columns follow it).
PRIMITIVES = {
    "darts": [
        "none",
        "max_pool_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "dil_conv_3x3",
        "dil_conv_5x5",
    ],
    "nb201": ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"],
}


def candidate_ops(space: str, with_none: bool) -> list[str]:
    """A space's op names in alpha's column order, with or without `none`."""
    return [op for op in PRIMITIVES[space] if with_none or op != "none"]

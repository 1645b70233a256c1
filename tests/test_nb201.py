"""NAS-Bench-201: arch strings both ways, and table lookup against the benchmark's own rows."""

from pathlib import Path

import pandas as pd
import pytest
import torch

from stretchnas.evaluation.lookup import TableLookupError, Tables, lookup
from stretchnas.evaluation.nb201_files import FULL_FILE, SUBSET_FILE
from stretchnas.method.nb201.arch import EDGES, OPS, ArchError, NB201Genotype
from stretchnas.settings.params import load_settings

REPO = Path(__file__).resolve().parents[1]
BEST_12EP = "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


@pytest.fixture(scope="module")
def tables(nb201_tables) -> Tables:
    """The NB201 tables named by STRETCHNAS_NB201 (CI: the offline copies beside the clone)."""
    folder = nb201_tables
    return Tables.from_settings(load_settings(REPO / "params.yaml", "smoke", environ={"STRETCHNAS_NB201": folder}))


# ----------------------------------------------------------------------------- arch strings


def test_an_arch_string_round_trips_edge_by_edge_in_the_benchmarks_order():
    genotype = NB201Genotype.from_arch_str(BEST_12EP)
    assert EDGES == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    assert genotype.ops == ("nor_conv_3x3", "nor_conv_1x1", "nor_conv_3x3", "skip_connect", "none", "nor_conv_3x3")
    assert genotype.arch_str == BEST_12EP
    assert NB201Genotype.from_dict(genotype.to_dict()) == genotype
    # every one of the 5^6 cells renders to a string that parses back to itself
    import itertools

    for ops in itertools.islice(itertools.product(OPS, repeat=6), 0, 15625, 97):
        assert NB201Genotype.from_arch_str(NB201Genotype(ops).arch_str).ops == ops


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("|skip_connect~0|+|skip_connect~0|skip_connect~1|", r"expected 3 node groups"),
        ("|skip_connect~0|+|skip_connect~0|+|skip_connect~0|skip_connect~1|skip_connect~2|", r"node 2 needs 2 inputs"),
        (BEST_12EP.replace("none~1", "none~2"), r"node 3's input 1 must read op~1"),
        (BEST_12EP.replace("nor_conv_1x1", "sep_conv_3x3"), r"unknown NB201 op\(s\) \['sep_conv_3x3'\]"),
    ],
)
def test_a_malformed_arch_string_is_refused_saying_what_is_wrong(text, message):
    with pytest.raises(ArchError, match=message):
        NB201Genotype.from_arch_str(text)


def test_depth_counts_ops_on_the_longest_path_that_reaches_the_output():
    assert NB201Genotype.from_arch_str(ALL_SKIP).depth() == 3
    assert NB201Genotype.from_arch_str(BEST_12EP).depth() == 3  # 0 -> 1 -> 2 -> 3
    no_path = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|"
    assert NB201Genotype.from_arch_str(no_path).depth() == 0


# ----------------------------------------------------------------------------- lookup


def test_a_table_cut_inside_a_row_or_edited_is_refused_never_read_as_an_accuracy(tmp_path, tables):
    data = tables.full.read_bytes()
    cut = data[: data.rindex(b",") - 3]  # inside the last row's last value
    renamed = tmp_path / "copy.csv"
    renamed.write_bytes(cut)
    with pytest.raises(TableLookupError, match=r"copy\.csv line 15626: imagenet-val is nan, not an accuracy"):
        lookup(BEST_12EP, Tables(renamed))
    published = tmp_path / FULL_FILE  # under its published name the checksum says so first
    published.write_bytes(cut)
    with pytest.raises(TableLookupError, match=rf"{FULL_FILE}: not the published {FULL_FILE} .*cut or edited"):
        lookup(BEST_12EP, Tables(published))
    edited = data.replace(b",69.55,", b",695.5,", 1)
    renamed.write_bytes(edited)
    with pytest.raises(TableLookupError, match=r"copy\.csv line 2: cifar10-test is 695\.5, not an accuracy"):
        lookup(BEST_12EP, Tables(renamed))
    renamed.write_bytes(data.replace(b"|avg_pool_3x3~0|+", b"|avg_pool_3x3~1|+", 1))
    with pytest.raises(TableLookupError, match=r"copy\.csv line 2: cellstr .*must read op~0"):
        lookup(BEST_12EP, Tables(renamed))


def test_lookup_gives_the_tables_own_values_and_names_its_source(tables):
    full = pd.read_csv(tables.full).set_index("cellstr")
    best = full["cifar10-test"].idxmax()
    assert best == BEST_12EP  # the 12-epoch table's best CIFAR-10 test accuracy, 89.16
    result = lookup(BEST_12EP, tables)
    assert result["cifar10_test_acc"] == 89.16 and result["nb201_index"] == 5374
    assert result["cifar100_test_acc"] == pytest.approx(60.44) and result["imagenet16_120_test_acc"] == pytest.approx(
        36.866667, abs=1e-4
    )
    assert (
        result["source"] == FULL_FILE
        and "12 epochs" in result["schedule"]
        and "not the 200-epoch" in result["schedule"]
    )
    skip = lookup(ALL_SKIP, tables)
    assert (skip["cifar10_test_acc"], skip["cifar10_val_acc"]) == (36.84, pytest.approx(33.944))
    # the 200-epoch subset: a value where the cell is in it, a note where it is not
    subset = pd.read_csv(tables.subset).set_index("arch_str")
    listed = subset.index[0]
    assert lookup(listed, tables)["cifar10_val_acc_200ep"] == pytest.approx(subset.loc[listed, "cifar10_val_acc_200ep"])
    assert skip["cifar10_val_acc_200ep"] is None and SUBSET_FILE in skip["note_200ep"]


def test_a_table_missing_a_cell_is_refused_whole_naming_it(tmp_path, tables):
    full = pd.read_csv(tables.full)
    short = tmp_path / "short.csv"
    full[full["cellstr"] != ALL_SKIP].to_csv(short, index=False)
    with pytest.raises(TableLookupError, match=r"short.csv: 15624 cells, not NAS-Bench-201's 15625"):
        lookup(BEST_12EP, Tables(short))
    (tmp_path / "wrong.csv").write_text("a,b\n1,2\n")
    with pytest.raises(TableLookupError, match=r"wrong.csv: not a NAS-Bench-201 table .*missing columns"):
        lookup(ALL_SKIP, Tables(tmp_path / "wrong.csv"))
    with pytest.raises(TableLookupError, match=r"nowhere.csv: no such NAS-Bench-201 table"):
        lookup(ALL_SKIP, Tables(Path(tmp_path / "nowhere.csv")))


# ----------------------------------------------------------------------------- search space and supernet


def nb201_search(mode="darts", **overrides):
    search = load_settings(REPO / "params.yaml", "smoke", environ={}).search
    topology = {"mode": mode, "allow_empty_output": False, **({"k": overrides.pop("k")} if "k" in overrides else {})}
    return search.merged({"op_space": "nb201", "cells_per_stage": 2, "channels": 4, "topology": topology, **overrides})


def test_the_nb201_topology_groups_are_each_nodes_outgoing_edges():
    from stretchnas.method.topology import build_space

    space = build_space("stretchable", 4, op_space="nb201")  # NB201's cell is fixed: 3 nodes, whatever is asked
    assert space.edges == list(EDGES) and list(space.nodes) == [1, 2, 3]
    groups = {g.node: [space.edges[e] for e in g.edges] for g in space.variables}
    assert groups == {0: [(0, 1), (0, 2), (0, 3)], 1: [(1, 2), (1, 3)], 2: [(2, 3)]}
    assert [len(g.subsets) for g in space.variables] == [7, 3, 1]  # every non-empty subset of the outputs
    with pytest.raises(ValueError, match=r"'input_pairs' needs DARTS's two-input cell"):
        build_space("input_pairs", 4, op_space="nb201")


def test_an_nb201_cell_sums_every_incoming_mixed_edge_as_the_straightforward_formula_does():
    from stretchnas.method.networks import build_search_network

    torch.manual_seed(0)
    net = build_search_network(nb201_search("stretchable"), num_classes=10).double()
    for p in net.arch_parameters():
        p.data.normal_()
    cell = net.cells[0]
    x = torch.randn(2, 4, 8, 8, dtype=torch.double)
    weights = net.mixed_weights("normal")
    states = [x]
    for j in (1, 2, 3):  # node j = sum_{i<j} sum_o w[(i,j), o] * o(x_i), each op run on its own
        total = 0
        for e, (i, jj) in enumerate(EDGES):
            if jj == j and str(e) in cell.edges:
                edge = cell.edges[str(e)]
                total = total + sum(weights[e][k] * op(states[i]) for k, op in zip(edge.op_index, edge.ops))
        states.append(total)
    torch.testing.assert_close(cell(x, weights), states[3])
    # three stages of N cells with a residual reduction between them, one alpha of 6 edges x 4 ops
    kinds = [type(c).__name__ for c in net.cells]
    assert (
        kinds
        == ["NB201SearchCell"] * 2
        + ["ResidualReduction"]
        + ["NB201SearchCell"] * 2
        + ["ResidualReduction"]
        + ["NB201SearchCell"] * 2
    )
    assert net.alpha["normal"].shape == (6, 4) and list(net.alpha) == ["normal"]
    assert net(torch.randn(2, 3, 32, 32, dtype=torch.double)).shape == (2, 10)


def test_nb201_derivation_keeps_each_edges_argmax_with_none_or_drops_unselected_edges_to_none():
    from stretchnas.method.derive import derive_architecture
    from stretchnas.method.networks import build_search_network

    net = build_search_network(nb201_search("darts"), num_classes=10)
    wanted = ("none", "nor_conv_3x3", "skip_connect", "avg_pool_3x3", "none", "nor_conv_1x1")
    with torch.no_grad():
        net.alpha["normal"].zero_()
        for e, op in enumerate(wanted):
            net.alpha["normal"][e, net.op_names.index(op)] = 1.0
    derivation = derive_architecture(net)
    assert derivation.genotype.ops == wanted  # `none` wins where its alpha is largest, as in NB201
    assert derivation.dropped_nodes == {"normal": [1]}  # node 1's only input is `none`

    net = build_search_network(nb201_search("output_k", k=1), num_classes=10)
    with torch.no_grad():
        net.alpha["normal"].zero_()
        net.alpha["normal"][:, net.op_names.index("nor_conv_3x3")] = 1.0
        net.beta["normal"].zero_()
        net.beta["normal"][2] = 1.0  # node 0 keeps its third output, (0, 3); node 1 its first subset, (1, 2)
    genotype = derive_architecture(net).genotype
    assert genotype.ops == ("none", "none", "nor_conv_3x3", "nor_conv_3x3", "none", "nor_conv_3x3")


def test_every_optimiser_searches_the_nb201_space(tmp_path, tiny_search_data):
    from stretchnas.search.runner import SearchRun

    for optimizer in ("darts_1st", "darts_2nd", "milenas", "edas"):
        settings = nb201_search(
            "stretchable",
            optimizer=optimizer,
            split_scheme="three_way",
            epochs=1,
            max_steps_per_epoch=1,
            snapshot_epochs=[1],
            cells_per_stage=1,
        )
        genotype = SearchRun(optimizer, settings, tiny_search_data, tmp_path / optimizer, 0).run(False)
        assert NB201Genotype.from_arch_str(genotype.arch_str) == genotype
        assert NB201Genotype.load(tmp_path / optimizer / "genotype.json") == genotype


@pytest.mark.slow
def test_every_nb201_experiment_searches_and_is_scored_by_lookup(tmp_path, prepared_cifar10, nb201_tables):
    """Every base method of the NB201 comparison, with and without stretchable cells and with the 2024
    simplification, at smoke scale (one search each): its cell is looked up in the 12-epoch table, which the
    result names."""
    from stretchnas.data.cache import PreparedData
    from stretchnas.pipeline.experiment import run_experiment
    from stretchnas.report.extract import nb201

    settings = load_settings(REPO / "params.yaml", "smoke", environ={"STRETCHNAS_NB201": nb201_tables})
    names = [name for name in settings.experiments if name.startswith("nb201_")]
    bases = {n.removesuffix("_sc").removesuffix("_simplified") for n in names}
    assert bases == {"nb201_darts_1st", "nb201_darts_2nd", "nb201_gdas", "nb201_pc_darts", "nb201_beta_darts"}
    data = PreparedData.open(prepared_cifar10)
    summaries = []
    for name in names:
        one_seed = settings.merged({"experiments": {name: {"search": {"seeds": [0]}}}})
        experiment = one_seed.experiment(name)
        summaries.append(run_experiment(one_seed, experiment, data, root=str(tmp_path / "runs"), quiet=True))
        (lookup_result,) = summaries[-1]["lookups"]
        assert lookup_result["source"] == FULL_FILE and "12 epochs" in lookup_result["schedule"]
        assert NB201Genotype.load(lookup_result["genotype_file"]).arch_str == lookup_result["arch"]
    table = nb201(summaries)
    assert list(table["experiment"]) == names and table["cifar10_test_acc"].between(0, 100).all()
    assert set(table[table["simplified"]]["experiment"]) == {n for n in names if n.endswith("_simplified")}

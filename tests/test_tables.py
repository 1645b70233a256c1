"""From synthetic experiment summaries, through the one path (tidy data, then the report's layouts):
grouping, statistics, paper columns, refusals."""

import copy
import json

import pandas as pd
import pytest

from stretchnas.method.genotype import Cell, Genotype
from stretchnas.method.published_genotypes import get_genotype
from stretchnas.report.build import read_data
from stretchnas.report.extract import TablesError, build_tables
from stretchnas.report.layouts import LAYOUTS, PAPER_VALUE_MISSING, Data
from stretchnas.report.paper_numbers import NOT_IN_THE_PAPER
from stretchnas.search.snapshots import INDEX_FILE, cell_changes


def summary(
    name,
    method,
    tables,
    errors,
    *,
    optimizer="darts_1st",
    mode="darts",
    k=None,
    nodes=4,
    layers=8,
    procedure="search",
    genotype="final",
):
    results = [
        {
            "search_seed": 2,
            "genotype": genotype,
            "seed": seed,
            "layers": layers,
            "channels": 16,
            "params_m": 3.0 + seed,
            "thop_style_flops_m": 500.0,
            "test_error": error,
            "epochs": 1,
            "genotype_file": f"/runs/{name}/g.json",
        }
        for seed, error in enumerate(errors)
    ]
    return {
        "experiment": name,
        "procedure": procedure,
        "method": method,
        "tables": tables,
        "optimizer": optimizer,
        "topology_mode": mode,
        "k": k,
        "intermediate_nodes": nodes,
        "search_layers": layers,
        "eval_layers": layers,
        "scale": "smoke",
        "search": {},
        "results": results,
    }


SUMMARIES = [
    summary("darts_2nd_L8", "DARTS (2nd order)", ["table1", "table3", "table5"], [3.0, 4.0], optimizer="darts_2nd"),
    summary("milenas_sc_L12", "MiLeNAS-SC", ["table1", "table3"], [2.5], mode="stretchable", nodes=6, layers=12),
    summary("darts_wo_sc", "DARTS w/o SC", ["table5"], [5.0, 7.0], mode="output_pairs"),
    summary("darts_sc_out3", "DARTS-SC (1st order)", ["figure5"], [6.0], mode="output_k", k=3),
    summary("darts_sc_arbitrary", "DARTS-SC (1st order)", ["figure5"], [4.0], mode="stretchable"),
]


def write(tmp_path, summaries, cell="DARTS_V2"):
    """The summaries as files, each result's genotype file a published cell written under tmp_path."""
    folder = tmp_path / "summaries"
    folder.mkdir()
    for s in copy.deepcopy(summaries):
        search_dir = tmp_path / "runs" / s["experiment"]
        for result in s["results"]:
            result["genotype_file"] = str(search_dir / "genotype.json")
            get_genotype(cell).save(result["genotype_file"])
        # one snapshot, at epoch 1: DARTS's first-order cell
        index = {"epoch_001": {"epoch": 1, "genotype": get_genotype("DARTS_V1").to_dict()}}
        (search_dir / INDEX_FILE).write_text(json.dumps(index))
        (folder / f"{s['experiment']}.json").write_text(json.dumps(s))
    return folder


def layout(out_dir, name: str) -> pd.DataFrame:
    """Table `name` as the report builds it from the tidy data the tables stage wrote into `out_dir`."""
    frames, scale = read_data(out_dir)
    return LAYOUTS[name](Data(frames, scale))


def test_tables_group_evaluations_and_carry_the_papers_numbers_in_paper_columns(tmp_path):
    build_tables([write(tmp_path, SUMMARIES)], tmp_path / "out", "smoke")
    t1 = layout(tmp_path / "out", "table1").set_index("Architecture")
    assert {"darts_2nd_L8", "milenas_sc_L12"} <= set(t1.index)
    row = t1.loc["darts_2nd_L8"]
    assert row["Test error (%) over searches"] == "3.50 (n=1 search)"
    # the sample std of 3 and 4 over the search's two trainings
    assert row["Test error (%) of the best search"] == "3.50 ± 0.71 (n=2 trainings), the only search"
    assert row["Params (M)"] == "3.500 (3.000-4.000)"
    # Table 1's DARTS (2nd order) row is that search's cell in DARTS's network (followups.darts_2nd_L8_L20)
    assert row["Paper row"] == "not in the paper" and row["paper_protocol"] == "none (not in the paper)"
    assert t1.loc["milenas_sc_L12", "Paper row"] == "MiLeNAS-SC-L12 + cutout"
    assert t1.loc["milenas_sc_L12", "paper_test_error"] == "2.36±0.07"

    t3 = layout(tmp_path / "out", "table3").set_index(["Method", "Nodes"])
    # 6 intermediate nodes + 2 inputs + output
    assert t3.loc[("MiLeNAS-SC", 9), "L12 test error (%)"] == "2.50 (n=1 search)"
    assert t3.loc[("MiLeNAS-SC", 9), "paper_L12_test_error"] == 2.36
    assert t3.loc[("DARTS (2nd order)", 7), "L8 test error (%)"] == "3.50 (n=1 search)"
    assert t3.loc[("DARTS (2nd order)", 7), "paper_L8_test_error"] == 3.06

    t5 = layout(tmp_path / "out", "table5").set_index("Method")
    assert t5.loc["DARTS (2nd order)", "Input edges: test error (%)"] == "3.50 (n=1 search) [darts_2nd_L8]"
    assert t5.loc["DARTS (2nd order)", "paper_input_edges_test_error"] == 2.76
    assert t5.loc["DARTS w/o SC", "Output edges: test error (%)"] == "6.00 (n=1 search) [darts_wo_sc]"
    assert t5.loc["DARTS w/o SC", "paper_output_edges_test_error"] == 2.72

    f5 = layout(tmp_path / "out", "figure5")
    assert list(f5["Outputs per node"])[:2] == ["3", "arbitrary"]  # 1..4 outputs per node, then arbitrary
    assert list(f5["Test error (%)"])[:2] == ["6.00 (n=1 search)", "4.00 (n=1 search)"]

    written = pd.read_csv(tmp_path / "out" / "evaluations.csv")
    assert len(written) == 7 and set(written["scale"]) == {"smoke"}
    experiments = pd.read_csv(tmp_path / "out" / "experiments.csv").set_index("experiment")
    assert sorted(experiments.index) == sorted(s["experiment"] for s in SUMMARIES)  # files in name order
    assert experiments.loc["darts_2nd_L8", "results"] == 2 and experiments.loc["darts_2nd_L8", "not_run"] == 0
    assert experiments.loc["darts_2nd_L8", "tables"] == "table1,table3,table5"


def test_trainings_that_did_not_run_are_listed_with_their_reason(tmp_path):
    final = summary("darts_2nd_L8", "DARTS (2nd order)", ["table4"], [3.0], optimizer="darts_2nd")
    final["not_run"] = [
        {
            "experiment": "darts_2nd_L8",
            "search_seed": 2,
            "genotype": "epoch_001",
            "layers": 8,
            "train_seed": 0,
            "reason": "epoch_001: no intermediate node keeps an input",
        }
    ]
    tables = build_tables([write(tmp_path, [final])], tmp_path / "out", "smoke")
    row = tables["not_run"].iloc[0]
    assert (row["experiment"], row["genotype"], row["reason"]) == (
        "darts_2nd_L8",
        "epoch_001",
        "epoch_001: no intermediate node keeps an input",
    )
    assert tables["experiments"].iloc[0]["not_run"] == 1


def test_snapshot_evaluations_feed_only_the_stability_table(tmp_path):
    final = summary("darts_2nd_L8", "DARTS (2nd order)", ["table1", "table4"], [3.0], optimizer="darts_2nd")
    snapshot = summary("darts_2nd_L8", "DARTS (2nd order)", ["table1", "table4"], [9.0], genotype="epoch_020")
    final["results"] += snapshot["results"]
    build_tables([write(tmp_path, [final])], tmp_path / "out", "smoke")
    t1 = layout(tmp_path / "out", "table1").set_index("Architecture")
    assert t1.loc["darts_2nd_L8", "Test error (%) over searches"] == "3.00 (n=1 search)"
    t4 = layout(tmp_path / "out", "table4").iloc[0]
    assert t4["epoch 20 test error (%)"] == "9.00 (n=1 training)"
    assert t4["final cell test error (%)"] == "3.00 (n=1 training)"


def test_summaries_of_another_scale_or_version_are_refused_naming_the_file(tmp_path):
    other = dict(SUMMARIES[0], scale="mini")
    folder = write(tmp_path, [other])
    with pytest.raises(TablesError, match=r"darts_2nd_L8\.json: a summary of scale 'mini', not 'smoke'"):
        build_tables([folder], tmp_path / "out", "smoke")
    old = {k: v for k, v in SUMMARIES[0].items() if k != "method"}
    (folder / "darts_2nd_L8.json").write_text(json.dumps(old))
    with pytest.raises(TablesError, match=r"darts_2nd_L8\.json: not an experiment summary.*'method'"):
        build_tables([folder], tmp_path / "out", "smoke")
    assert not (tmp_path / "out").exists()


def test_figure4_keeps_every_depth_and_the_other_tables_only_the_cells_own(tmp_path):
    cell = summary("milenas_sc_L8", "MiLeNAS-SC", ["table1", "figure4"], [2.0, 2.2], mode="stretchable", nodes=6)
    deeper = summary("milenas_sc_L8", "MiLeNAS-SC", ["table1", "figure4"], [3.0], layers=12)["results"]
    cell["results"] += deeper  # the same final cell evaluated with 12 layers
    build_tables([write(tmp_path, [cell])], tmp_path / "out", "smoke")
    row = layout(tmp_path / "out", "table1").set_index("Architecture").loc["milenas_sc_L8"]
    # not mixed with the 12-layer evaluation
    assert row["Test error (%) of the best search"] == "2.10 ± 0.14 (n=2 trainings), the only search"
    figure = layout(tmp_path / "out", "figure4").set_index("Experiment").loc["milenas_sc_L8"]
    assert figure["Search layers"] == 8
    assert (figure["L8 test error (%)"], figure["L12 test error (%)"]) == ("2.10 (n=1 search)", "3.00 (n=1 search)")


def test_a_table1_row_the_paper_does_not_have_says_so(tmp_path):
    build_tables([write(tmp_path, [summary("edas_L8", "EDAS", ["table1"], [3.0])])], tmp_path / "o", "smoke")
    row = layout(tmp_path / "o", "table1").set_index("Architecture").loc["edas_L8"]
    assert row["Paper row"] == NOT_IN_THE_PAPER and row["paper_test_error"] == PAPER_VALUE_MISSING


def test_cells_give_the_depth_and_width_of_each_searched_final_cell(tmp_path):
    tables = build_tables([write(tmp_path, SUMMARIES, cell="DARTS_V2")], tmp_path / "out", "smoke")
    cells = tables["cells"].set_index("experiment")
    assert len(cells) == len(SUMMARIES)
    # DARTS_V2's normal cell: its last node takes the first intermediate node (a path of 2 ops); 7 of its 8
    # edges leave the two cell inputs
    assert cells.loc["darts_2nd_L8", ["depth_normal", "width_normal"]].tolist() == [2, 7]


def test_the_same_summaries_give_byte_identical_tables(tmp_path):
    folder = write(tmp_path, SUMMARIES)
    for out in ("a", "b"):
        build_tables([folder], tmp_path / out, "smoke")
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files and files == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


def test_cell_changes_count_moved_edges_and_changed_ops():
    before = Cell(
        (("sep_conv_3x3", 0, 2), ("skip_connect", 1, 2), ("max_pool_3x3", 0, 3), ("sep_conv_5x5", 2, 3)), (2, 3)
    )
    after = Cell(
        (("sep_conv_3x3", 0, 2), ("dil_conv_3x3", 1, 2), ("max_pool_3x3", 1, 3), ("sep_conv_5x5", 2, 3)), (2, 3)
    )
    changes = cell_changes(Genotype(before, before), Genotype(after, before))
    # node 3's input 0 became input 1 (one edge lost, one gained); node 2's edge from 1 changed its op
    assert changes == {
        "edges_changed_normal": 2,
        "ops_changed_normal": 1,
        "edges_changed_reduce": 0,
        "ops_changed_reduce": 0,
    }


def test_stability_lists_each_step_from_snapshot_to_snapshot_to_the_final_cell(tmp_path):
    tables = build_tables([write(tmp_path, SUMMARIES)], tmp_path / "out", "smoke")
    rows = tables["stability"].set_index("experiment").loc["darts_2nd_L8"]
    assert (rows["from_epoch"], rows["to_epoch"]) == (1, "final")
    expected = cell_changes(get_genotype("DARTS_V1"), get_genotype("DARTS_V2"))
    assert {key: rows[key] for key in expected} == expected and expected["ops_changed_normal"] > 0


def test_provenance_lists_each_search_and_training_with_what_its_run_record_says(tmp_path):
    summaries = copy.deepcopy(SUMMARIES[:2])
    record = {
        "versions": {"git_commit": "abc123", "git_tracked_changes": False},
        "command": ["stretchnas", "evaluate", "--out", "runs/x y"],
        "threads": 1,
        "device_name": "cpu",
        "machine": {"platform": "Linux", "cpu_model": "Some CPU", "logical_cpus": 2},
        "data": {"source_name": "cifar.tar.gz", "source_sha256": "f" * 64},
    }
    for s in summaries:
        for result in s["results"]:
            result["run_dir"] = str(tmp_path / "trainings" / s["experiment"] / f"seed{result['seed']}")
    folder = write(tmp_path, summaries)
    recorded = tmp_path / "trainings" / "darts_2nd_L8" / "seed0"
    recorded.mkdir(parents=True)
    (recorded / "run.json").write_text(json.dumps(record))
    (tmp_path / "runs" / "darts_2nd_L8" / "run.json").write_text(
        json.dumps({**record, "command": ["stretchnas", "search"]})
    )
    runs = build_tables([folder], tmp_path / "out", "smoke")["provenance"]
    assert sorted(runs["kind"]) == ["search", "search", "training", "training", "training"]
    by_dir = runs.set_index("run_dir")
    row = by_dir.loc[str(recorded)]
    assert (row["git_commit"], row["package_changed"], row["command"]) == (
        "abc123",
        False,
        "stretchnas evaluate --out 'runs/x y'",
    )
    assert (row["cpu_model"], row["logical_cpus"], row["data_source"]) == ("Some CPU", 2, "cifar.tar.gz")
    assert by_dir.loc[str(tmp_path / "runs" / "darts_2nd_L8"), "command"] == "stretchnas search"
    unrecorded = by_dir.loc[str(tmp_path / "trainings" / "darts_2nd_L8" / "seed1")]
    assert unrecorded[["git_commit", "command", "data_source"]].isna().all()  # no record: nothing made up


def test_an_experiment_with_a_summary_is_not_listed_as_not_planned(tmp_path):
    fields = {
        key: SUMMARIES[0][key]
        for key in (
            "experiment",
            "procedure",
            "method",
            "tables",
            "optimizer",
            "topology_mode",
            "k",
            "intermediate_nodes",
            "search_layers",
            "eval_layers",
        )
    }
    not_planned = {
        "darts_2nd_L8": ({**fields, "simplified": False}, "no table configured"),
        "other": ({**fields, "experiment": "other", "simplified": False}, "no table configured"),
    }
    table = build_tables([write(tmp_path, SUMMARIES)], tmp_path / "out", "smoke", not_planned)["experiments"]
    assert list(table["experiment"]).count("darts_2nd_L8") == 1  # its summary's row, not a second one
    assert table.set_index("experiment").loc["other", "not_planned"] == "no table configured"

"""The report, on synthetic stage outputs: paper layouts, mean ± std with n over searches and training seeds,
best-of labelling, not-run cells, each claim's verdict, cell drawings, refusals and byte-identical output."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from stretchnas.method.genotype import Cell, Genotype
from stretchnas.method.published_genotypes import get_genotype
from stretchnas.report import claims as c
from stretchnas.report.artefacts import DVC_VIEWS, REPORT_FIGURES, REPORT_TABLES, report_outputs
from stretchnas.report.build import ReportError, build_report, parse_cells
from stretchnas.report.cell_drawings import genotype_graph
from stretchnas.report.extract import build_tables
from stretchnas.report.layouts import Data, table1, table3, table4, table5
from stretchnas.report.stats import format_mean_std, seed_summary
from stretchnas.search.snapshots import INDEX_FILE

# ----------------------------------------------------------------------------- synthetic stage outputs


def summary(
    name,
    method,
    tables,
    errors,
    *,
    mode="darts",
    k=None,
    nodes=4,
    layers=8,
    procedure="search",
    optimizer="darts_1st",
    params=3.4,
    not_run=(),
):
    """errors: {search seed: [test error per training seed]}."""
    results = [
        {
            "search_seed": seed,
            "genotype": "final",
            "seed": t,
            "layers": layers,
            "channels": 16,
            "params_m": params,
            "thop_style_flops_m": 500.0,
            "test_error": error,
            "epochs": 1,
            "wall_seconds": 10.0,
            "data_source": "/somewhere/cifar10.tar.gz",
            "train_images": 600,
            "test_images": 200,
            "genotype_file": f"runs/{name}/seed{seed}/search/genotype.json",
        }
        for seed, train_errors in errors.items()
        for t, error in enumerate(train_errors)
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
        "search": {"seeds": sorted(errors)},
        "results": results,
        "not_run": list(not_run),
    }


def stage_outputs(tmp_path, summaries, dropped_nodes=0):
    """What the searches and gathers leave behind, then the tables stage's data (results/smoke/data)."""
    folder = tmp_path / "runs" / "summaries"
    folder.mkdir(parents=True)
    for s in summaries:
        for result in s["results"]:
            search_dir = tmp_path / result["genotype_file"].rsplit("/", 1)[0]
            result["genotype_file"] = str(search_dir / "genotype.json")
            if not search_dir.exists():
                search_dir.mkdir(parents=True)
                get_genotype("DARTS_V2").save(search_dir / "genotype.json")
                index = {"epoch_001": {"epoch": 1, "genotype": get_genotype("DARTS_V1").to_dict()}}
                (search_dir / INDEX_FILE).write_text(json.dumps(index))
                metrics = pd.DataFrame(
                    {
                        "epoch": [1, 2],
                        "alpha_entropy_normal": [1.9, 1.8],
                        "beta_entropy_normal": [1.3, 1.2],
                        "regularizer": [0.1, 0.0],
                        "dropped_nodes": [1, dropped_nodes],
                        "val_acc": [0.2, 0.3],
                        "seconds": [1800.0, 1800.0],
                        "peak_rss_mib": [900.0, 950.0],
                        "images_per_s": [5.0, 5.5],
                    }
                )
                metrics.to_csv(search_dir / "metrics.csv", index=False)
                (search_dir / "run.json").write_text(json.dumps({"device_name": "cpu"}))
        (folder / f"{s['experiment']}.json").write_text(json.dumps(s))
    build_tables([folder], tmp_path / "results" / "data", "smoke")
    return tmp_path / "results" / "data"


SC_ERRORS = {1: [2.0, 2.2], 2: [2.4, 2.6], 3: [2.1]}
BASELINE_ERRORS = {1: [3.0, 3.1], 2: [3.2, 3.1], 3: [2.9]}
NOT_DERIVABLE = {
    "search_seed": 1,
    "genotype": "final",
    "layers": 8,
    "train_seed": 0,
    "reason": "final: no intermediate node keeps an input",
}


def registry():
    return [
        summary(
            "milenas_sc_L8",
            "MiLeNAS-SC",
            ["table1", "table3"],
            SC_ERRORS,
            mode="stretchable",
            nodes=6,
            optimizer="milenas",
        ),
        summary(
            "darts_2nd_L8", "DARTS (2nd order)", ["table1", "table3", "table5"], BASELINE_ERRORS, optimizer="darts_2nd"
        ),
        summary("darts_1st_L8", "DARTS (1st order)", ["table1"], {}, not_run=[NOT_DERIVABLE]),
        summary("darts_wo_sc", "DARTS w/o SC", ["table4", "table5"], {1: [2.7], 2: [2.8]}, mode="output_pairs"),
    ]


@pytest.fixture
def data_dir(tmp_path):
    return stage_outputs(tmp_path, registry())


def read(data_dir):
    from stretchnas.report.build import read_data

    return Data(*read_data(data_dir))


# ----------------------------------------------------------------------------- statistics


def test_mean_std_over_searches_and_the_best_search_over_training_seeds_are_kept_apart():
    runs = pd.DataFrame(
        [
            {"search_seed": s, "train_seed": t, "test_error": e}
            for s, errors in SC_ERRORS.items()
            for t, e in enumerate(errors)
        ]
    )
    stats = seed_summary(runs)
    # per-search means 2.1, 2.5, 2.1: mean 2.2333, sample std 0.2309
    assert stats.over_searches == "2.23 ± 0.23 (n=3 searches)"
    # the best search (seed 1, first of the tie at 2.1) over its two training seeds: 2.1 ± 0.1414
    assert stats.best_seed == 1
    assert stats.best_over_trainings == (
        "2.10 ± 0.14 (n=2 trainings), best of 3 searches (seed 1, picked on test error)"
    )
    assert format_mean_std(2.5, float("nan"), 1, unit="searches") == "2.50 (n=1 search)"


def test_table1_has_the_papers_columns_our_statistics_and_says_why_a_row_did_not_run(data_dir):
    table = table1(read(data_dir)).set_index("Paper row")
    assert list(table.columns) == [
        "Architecture",
        "Test error (%) over searches",
        "Test error (%) of the best search",
        "Params (M)",
        "FLOPs (M)",
        "Search cost",
        "Search method",
        "paper_test_error",
        "paper_params_m",
        "paper_flops_m",
        "paper_search_cost_gpu_days",
        "paper_protocol",
    ]
    sc = table.loc["MiLeNAS-SC-L8 + cutout"]
    assert sc["Test error (%) over searches"] == "2.23 ± 0.23 (n=3 searches)"
    assert sc["Test error (%) of the best search"].endswith("best of 3 searches (seed 1, picked on test error)")
    assert (sc["paper_test_error"], sc["paper_params_m"], sc["paper_search_cost_gpu_days"]) == ("2.58±0.11", 3.5, 1.1)
    # two 1800 s epochs per search: one CPU-hour each, labelled with the device
    assert sc["Search cost"] == "1.000 CPU-hours (cpu; n=3 searches)"
    darts = table.loc["DARTS (2nd order) + cutout"]
    assert darts["paper_protocol"].startswith("best of 4 searches")
    assert table.loc["DARTS (1st order) + cutout", "Test error (%) over searches"] == (
        "not run (final: no intermediate node keeps an input)"
    )
    assert table.loc["PC-DARTS + cutout", "Params (M)"].startswith("not run (no experiment in params.yaml")
    assert not table.isna().any().any() and "" not in set(table.to_numpy().ravel())


def test_table3_puts_each_cell_under_its_layer_count_beside_the_papers(data_dir):
    table = table3(read(data_dir)).set_index(["Method", "Nodes"])
    sc = table.loc[("MiLeNAS-SC", 9)]
    assert sc["L8 test error (%)"] == "2.23 ± 0.23 (n=3 searches)" and sc["paper_L8_test_error"] == 2.58
    assert sc["L12 test error (%)"].startswith("not run (no experiment in params.yaml")
    assert sc["paper_L20_params_m"] == 3.5
    assert table.loc[("DARTS (2nd order)", 7), "L8 params (M)"] == "3.400"


def test_table4_has_a_row_per_search_and_the_papers_runs_beside_them(data_dir):
    table = table4(read(data_dir))
    assert list(table["Search"]) == ["seed 1", "seed 2"]
    assert list(table["final cell test error (%)"]) == ["2.70 (n=1 training)", "2.80 (n=1 training)"]
    assert list(table["paper_epoch50_test_error"]) == [2.71, 2.69]  # DARTS w/o SC's runs 1 and 2


def test_table5_names_the_missing_perspective(data_dir):
    table = table5(read(data_dir)).set_index("Method")
    # per-search means 3.05, 3.15, 2.9
    assert table.loc["DARTS (2nd order)", "Input edges: test error (%)"] == "3.03 ± 0.13 (n=3 searches) [darts_2nd_L8]"
    assert table.loc["DARTS w/o SC", "Input edges: test error (%)"].startswith("not run (no experiment")
    assert table.loc["DARTS w/o SC", "paper_output_edges_test_error"] == 2.72


# ----------------------------------------------------------------------------- claims


def evaluations(groups: dict[str, dict[int, list[float]]], params=None, learned=True) -> pd.DataFrame:
    params = params or {}
    return pd.DataFrame(
        [
            {
                "experiment": name,
                "genotype": "final",
                "own_layers": True,
                "layers": 8,
                "search_seed": seed,
                "train_seed": t,
                "test_error": e,
                "params_m": params.get(name, 3.4),
                "learned": learned,
            }
            for name, errors in groups.items()
            for seed, train in errors.items()
            for t, e in enumerate(train)
        ]
    )


def gates(frame: pd.DataFrame, moved=True, settled=True, beta_moved=None, dropped=0) -> pd.DataFrame:
    """One gate record per search of `frame`, every gate as given."""
    pairs = frame[["experiment", "search_seed"]].drop_duplicates()
    return pairs.assign(moved=moved, settled=settled, beta_moved=beta_moved, dropped_nodes=dropped)


LOW, HIGH = {1: [2.0], 2: [2.1], 3: [2.05]}, {1: [3.0], 2: [3.1], 3: [2.95]}
OVERLAP_A, OVERLAP_B = {1: [2.0], 2: [3.0], 3: [2.5]}, {1: [2.4], 2: [2.6], 3: [2.5]}


@pytest.mark.parametrize(
    ("sc", "baseline", "params", "verdict"),
    [
        (LOW, HIGH, None, c.SUPPORTED),
        (HIGH, LOW, None, c.CONTRADICTED),
        (OVERLAP_A, OVERLAP_B, None, c.CANNOT_TELL),
        ({1: [1.0, 1.1]}, {1: [9.0, 9.1]}, None, c.CANNOT_TELL),  # one search a side, however far apart
        (LOW, HIGH, {"milenas_sc_L8": 5.0}, c.CANNOT_TELL),  # a win, but not at similar parameters
        (HIGH, LOW, {"milenas_sc_L8": 5.0}, c.CONTRADICTED),  # a loss with more parameters is still a loss
    ],
)
def test_table1_claim(sc, baseline, params, verdict):
    groups = {"milenas_sc_L8": sc, **{name: baseline for name in c.TABLE1_BASELINES}}
    frame = evaluations(groups, params)
    result = c.beats_baselines(frame, gates(frame))
    assert result.verdict == verdict, result.evidence


@pytest.mark.parametrize(
    ("failing", "words"),
    [
        ({"moved": False}, "3 of 3 searches did not move"),
        ({"settled": False}, "3 of 3 searches did not settle"),
        ({"learned": False}, "3 of 3 searches have no training that learned"),
    ],
)
def test_a_claim_is_decided_exactly_when_its_gates_pass(failing, words):
    groups = {"milenas_sc_L8": LOW, **{name: HIGH for name in c.TABLE1_BASELINES}}
    frame = evaluations(groups, learned=failing.get("learned", True))
    search_gates = {key: value for key, value in failing.items() if key != "learned"}
    result = c.beats_baselines(frame, gates(frame, **search_gates))
    assert result.verdict == c.CANNOT_TELL and words in result.evidence[0], result.evidence
    # a search with no gate record counts for nothing either
    assert c.beats_baselines(frame, None).verdict == c.CANNOT_TELL
    # one search a side left by the gates: too few for a t-interval
    partly = gates(frame).assign(moved=lambda g: g["search_seed"] == 1)
    assert c.beats_baselines(evaluations(groups), partly).verdict == c.CANNOT_TELL


def test_a_single_comparison_decides_exactly_when_its_interval_excludes_zero():
    rules = c.Rules()
    for shift in (0.05, 0.1, 0.2, 0.3, 0.5, 1.0):
        a = c.Sample("a", [2.0, 2.3, 2.1, 2.4], searches=4)
        b = c.Sample("b", [2.0 + shift, 2.3 + shift, 2.2 + shift, 2.2 + shift], searches=4)
        part = c.lower(a, b, rules)
        (decision,) = c.decide([part], rules)
        excludes = part.test.high < 0 or part.test.low > 0
        assert (decision.verdict != c.CANNOT_TELL) == excludes, (shift, decision.text)


def test_holms_correction_changes_a_verdict():
    rules = c.Rules()
    # two comparisons whose uncorrected p-values (about 0.03 and 0.04) each decide at 5%, but not together
    a = c.Sample("a", [0.0, 1.0, 2.0, 0.5, 1.5], searches=5)
    b1 = c.Sample("b1", [x + 1.3 for x in a.values], searches=5)
    b2 = c.Sample("b2", [x + 1.2 for x in a.values], searches=5)
    parts = [c.lower(a, b1, rules), c.lower(a, b2, rules)]
    assert all(0.025 < part.test.p_value < 0.05 for part in parts)
    assert [d.verdict for d in c.decide(parts[:1], rules)] == [c.SUPPORTED]
    assert [d.verdict for d in c.decide(parts, rules)] == [c.CANNOT_TELL, c.CANNOT_TELL]
    assert "searches a side would decide" in c.decide(parts, rules)[0].text


def test_a_claim_with_a_missing_side_cannot_be_told():
    frame = evaluations({"milenas_sc_L8": LOW, "darts_2nd_L8": HIGH})
    result = c.beats_baselines(frame, gates(frame))
    assert result.verdict == c.CANNOT_TELL and "no result for darts_1st_L8" in result.evidence[0]


def test_each_cell_best_at_its_own_depth():
    def runs(own_errors, other_errors):
        frame = evaluations({"milenas_sc_L8": own_errors})
        deeper = evaluations({"milenas_sc_L8": other_errors}).assign(layers=12, own_layers=False)
        return pd.concat([frame, deeper], ignore_index=True)

    frame = runs(LOW, HIGH)
    assert c.best_at_own_layers(frame, gates(frame)).evidence[0].endswith(c.SUPPORTED)
    assert c.best_at_own_layers(runs(HIGH, LOW), gates(frame)).verdict == c.CONTRADICTED
    # L12, L16 and L20 cells not run: the claim as a whole cannot be told from L8 alone
    assert c.best_at_own_layers(frame, gates(frame)).verdict == c.CANNOT_TELL


def test_shallow_and_wide():
    def cells(darts_depth, sc_depth, darts_width, sc_width):
        rows = [
            {"experiment": "darts_2nd_L8", "search_seed": s, "depth_normal": d, "width_normal": w}
            for s, (d, w) in enumerate(zip(darts_depth, darts_width))
        ]
        rows += [
            {"experiment": "milenas_sc_L8", "search_seed": s, "depth_normal": d, "width_normal": w}
            for s, (d, w) in enumerate(zip(sc_depth, sc_width))
        ]
        return pd.DataFrame(rows)

    supported = cells([2, 2, 3], [5, 6, 5], [7, 6, 7], [2, 3, 2])
    assert c.shallow_and_wide(supported, gates(supported)).verdict == c.SUPPORTED
    assert c.shallow_and_wide(supported, gates(supported, settled=False)).verdict == c.CANNOT_TELL
    contradicted = cells([5, 6, 5], [2, 2, 3], [7, 6, 7], [2, 3, 2])
    assert c.shallow_and_wide(contradicted, gates(contradicted)).verdict == c.CONTRADICTED
    one = cells([2], [5], [7], [2])
    assert c.shallow_and_wide(one, gates(one)).verdict == c.CANNOT_TELL


def test_stability_is_judged_on_the_spread_of_snapshot_cells_test_errors():
    def snapshots(name, spreads):
        """Per search, two snapshot cells whose test errors are `spread` apart."""
        return [
            {
                "experiment": name,
                "genotype": f"epoch_00{k}",
                "own_layers": True,
                "layers": 8,
                "search_seed": seed,
                "train_seed": 0,
                "test_error": 3.0 + k * spread,
                "params_m": 3.4,
                "learned": True,
            }
            for seed, spread in enumerate(spreads)
            for k in (1, 2)
        ]

    frame = pd.DataFrame(snapshots(c.STABLE, [0.1, 0.2, 0.15]) + snapshots(c.UNSTABLE, [1.0, 1.2, 1.1]))
    assert c.more_stable(frame, pd.DataFrame(), gates(frame)).verdict == c.SUPPORTED
    swapped = pd.DataFrame(snapshots(c.STABLE, [1.0, 1.2, 1.1]) + snapshots(c.UNSTABLE, [0.1, 0.2, 0.15]))
    assert c.more_stable(swapped, pd.DataFrame(), gates(swapped)).verdict == c.CONTRADICTED
    assert c.more_stable(frame, pd.DataFrame(), gates(frame, moved=False)).verdict == c.CANNOT_TELL


def test_stability_edits_leave_out_steps_without_a_derivable_cell():
    def rows(name, edits):
        return [
            {
                "experiment": name,
                "search_seed": seed,
                "not_derivable": False,
                "edges_changed_normal": e,
                "ops_changed_normal": 0,
                "edges_changed_reduce": 0,
                "ops_changed_reduce": 0,
            }
            for seed, e in enumerate(edits)
        ]

    gaps = rows(c.STABLE, [6, 8, 7]) + [
        dict(r, not_derivable=True, edges_changed_normal=float("nan")) for r in rows(c.STABLE, [0, 0, 0])
    ]
    assert c.stability_changes(pd.DataFrame(gaps), c.STABLE) == ([6.0, 8.0, 7.0], 3)


def test_the_regulariser_claim_counts_only_searches_whose_beta_moved_where_a_node_can_be_dropped():
    experiments = pd.DataFrame(
        {
            "experiment": ["sc", "pairs", "plain", "nb201_sc", "sc_retrain"],
            "topology_mode": ["stretchable", "input_pairs", "darts", "stretchable", "stretchable"],
            "tables": ["table1", "table5", "table1", "nb201", "table1"],
        }
    )

    def searches(dropped, beta_moved=True, seeds=(1, 2, 3)):
        rows = [
            {"experiment": name, "search_seed": s, "searched_by": name, "beta_moved": beta_moved, "dropped_nodes": 0}
            for name in ("sc", "pairs", "plain")
            for s in seeds
        ]
        for row in rows:
            row["dropped_nodes"] = dropped
        # NAS-Bench-201's searches have their own claim; a retrain repeats its source search's row: neither counts
        rows += [{**row, "experiment": "nb201_sc", "searched_by": "nb201_sc", "dropped_nodes": 5} for row in rows[:3]]
        rows += [{**row, "experiment": "sc_retrain", "searched_by": "sc"} for row in rows[:3]]
        return pd.DataFrame(rows)

    assert c.no_invalid_node(searches(0), experiments).verdict == c.SUPPORTED
    contradicted = c.no_invalid_node(searches(1), experiments)
    assert contradicted.verdict == c.CONTRADICTED and "sc seed 1: 1" in contradicted.evidence[1]
    assert "pairs" not in contradicted.evidence[1]  # input pairs never drop a node: not counted
    assert "nb201" not in contradicted.evidence[1] and "sc_retrain" not in contradicted.evidence[1]
    unmoved = c.no_invalid_node(searches(1, beta_moved=False), experiments)
    assert unmoved.verdict == c.CANNOT_TELL and "0 of 3 searches" in unmoved.evidence[0]
    assert c.no_invalid_node(searches(0, seeds=(1, 2)), experiments).verdict == c.CANNOT_TELL  # two searches


# ----------------------------------------------------------------------------- the whole report


def test_the_report_writes_every_declared_file_and_a_readme_with_every_claim(data_dir, tmp_path):
    cells = {"milenas_sc_L8-seed1": tmp_path / "runs/milenas_sc_L8/seed1/search/genotype.json"}
    build_report(data_dir, tmp_path / "out", cells)
    written = {str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert written == {p.removeprefix("X/") for p in report_outputs("X", list(cells))}
    assert len(REPORT_TABLES) * 3 + len(REPORT_FIGURES) * 2 + 2 + len(DVC_VIEWS) + 1 == len(written)
    readme = (tmp_path / "out" / "README.md").read_text()
    assert readme.count("\n### ") == 7
    assert "### 1. Stretchable cells beat DARTS and MiLeNAS at similar parameters (Table 1): **cannot tell**" in readme
    assert "no result for darts_1st_L8" in readme  # its only training did not run
    assert "Data: CIFAR-10 from cifar10.tar.gz (600 training and 200 test images)." in readme
    latex = (tmp_path / "out" / "tables" / "table1.tex").read_text()
    assert r"2.23 $\pm$ 0.23 (n=3 searches)" in latex and "Scale smoke" in latex
    assert r"paper\_* columns" in latex  # the caption is escaped, as pandas escapes the cells
    markdown = (tmp_path / "out" / "tables" / "table3.md").read_text()
    assert "| 3.400 " in markdown  # as written in the CSV, not re-parsed as a number
    csv = pd.read_csv(tmp_path / "out" / "tables" / "table1.csv")
    assert set(csv["scale"]) == {"smoke"} and list(csv.columns[:2]) == ["scale", "data"]

    # what DVC reads: the same numbers, computed here the plain way from the data the report read
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    verdicts = re.findall(r"^### \d\. .*: \*\*(.*)\*\*$", readme, re.M)
    assert [claim["verdict"] for claim in metrics["claims"].values()] == verdicts
    evaluations = pd.read_csv(data_dir / "evaluations.csv")
    own = evaluations[(evaluations["genotype"] == "final") & evaluations["own_layers"]]
    for experiment, rows in own.groupby("experiment"):
        per_search = [rows.loc[rows["search_seed"] == seed, "test_error"].mean() for seed in set(rows["search_seed"])]
        shown = metrics["experiments"][experiment]["test_error"]
        assert shown["n"] == len(per_search) and shown["mean"] == round(sum(per_search) / len(per_search), 4)
    depth = pd.read_csv(tmp_path / "out" / "plots" / "test_error_by_depth.csv").set_index("eval_layers")
    finals = evaluations[evaluations["genotype"] == "final"]
    for experiment in depth.columns:
        for layers, value in depth[experiment].dropna().items():
            rows = finals[(finals["experiment"] == experiment) & (finals["layers"] == layers)]
            assert value == pytest.approx(rows.groupby("search_seed")["test_error"].mean().mean(), abs=1e-4)


def test_regenerating_the_report_gives_byte_identical_files(data_dir, tmp_path):
    # two processes with different hash seeds: nothing may depend on set or dict order
    cell = f"--cell=darts_2nd_L8-seed1={tmp_path / 'runs/darts_2nd_L8/seed1/search/genotype.json'}"
    for out, hash_seed in (("a", "1"), ("b", "2")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [Path(sys.executable).parent / "stretchnas", "report", "--data", data_dir, "--out", tmp_path / out, cell],
            capture_output=True,
            text=True,
            env=env,
        )
        assert result.returncode == 0, result.stderr
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert any(p.suffix == ".png" for p in files) and any(p.suffix == ".svg" for p in files)
    different = [p for p in files if (tmp_path / "a" / p).read_bytes() != (tmp_path / "b" / p).read_bytes()]
    assert different == []
    assert "<dc:date>" not in (tmp_path / "a" / "figures" / "figure1.svg").read_text()


def test_a_scale_without_searches_snapshots_or_skipped_trainings_still_gets_every_file(data_dir, tmp_path, monkeypatch):
    from stretchnas.report import figures

    drawn, save = {}, figures.save

    def saved(fig, stem):  # the text each figure holds (the SVG draws text as paths)
        drawn[stem.name] = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
        return save(fig, stem)

    monkeypatch.setattr(figures, "save", saved)
    # what a run of only random baselines and retrains leaves: header-only files
    for name in ("search_dynamics", "stability", "cells", "not_run"):
        header = pd.read_csv(data_dir / f"{name}.csv").iloc[:0]
        header.to_csv(data_dir / f"{name}.csv", index=False)
    pd.DataFrame({"scale": []}).to_csv(data_dir / "search_dynamics.csv", index=False)  # as the tables stage writes it
    build_report(data_dir, tmp_path / "out", {})
    costs = (tmp_path / "out" / "tables" / "costs.md").read_text()
    assert "not run (no search record)" in costs and " nan " not in costs
    # an empty figure says so instead of drawing empty axes
    assert "No search with two derivable snapshots at scale smoke" in drawn["stability"]
    assert (
        "### 7. The passive-aggressive regulariser leaves no invalid node" in (tmp_path / "out/README.md").read_text()
    )


def test_the_report_refuses_missing_or_mixed_data_naming_the_file(data_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(data_dir, broken)
    (broken / "cells.csv").unlink()
    with pytest.raises(ReportError, match=r"cells\.csv: missing; run `stretchnas tables`"):
        build_report(broken, tmp_path / "out", {})
    shutil.copy(data_dir / "cells.csv", broken / "cells.csv")
    evaluations = pd.read_csv(broken / "evaluations.csv").assign(scale="mini")
    evaluations.to_csv(broken / "evaluations.csv", index=False)
    with pytest.raises(ReportError, match=r"data of more than one scale \(.*evaluations\.csv: \['mini'\]"):
        build_report(broken, tmp_path / "out", {})
    evaluations.drop(columns=["test_error"]).to_csv(broken / "evaluations.csv", index=False)
    with pytest.raises(ReportError, match=r"evaluations\.csv: missing columns \['test_error'\]"):
        build_report(broken, tmp_path / "out", {})
    evaluations.assign(scale="smoke", own_layers="yes").to_csv(broken / "evaluations.csv", index=False)
    with pytest.raises(ReportError, match=r"evaluations\.csv: column 'own_layers' holds 'yes', not True or False"):
        build_report(broken, tmp_path / "out", {})
    assert not (tmp_path / "out" / "README.md").exists()
    with pytest.raises(ReportError, match="expected NAME=GENOTYPE_FILE"):
        parse_cells(["no-equals-sign"])


def test_a_cell_drawing_shows_every_edge_with_its_op_whatever_the_inputs_per_node():
    # node 4 takes three inputs; node 2 feeds both later nodes; only 3 and 4 reach the output
    normal = Cell(
        (
            ("sep_conv_3x3", 0, 2),
            ("skip_connect", 1, 3),
            ("dil_conv_5x5", 2, 3),
            ("max_pool_3x3", 0, 4),
            ("avg_pool_3x3", 2, 4),
            ("sep_conv_5x5", 3, 4),
        ),
        (3, 4),
    )
    source = genotype_graph(Genotype(normal, get_genotype("DARTS_V2").reduce), "test").source
    assert source.count("\tnormal_4 [label=2") == 1 and source.count("-> normal_4 [label=") == 3
    assert "normal_2 -> normal_out" not in source and "normal_4 -> normal_out" in source
    for op in ("sep_conv_3x3", "dil_conv_5x5", "avg_pool_3x3"):
        assert f"label={op}" in source
    assert '"c_{k-2}"' in source and '"c_{k}"' in source


def test_the_provenance_section_counts_runs_per_commit_machine_and_data_copy():
    from stretchnas.report.readme import provenance_section

    common = {
        "platform": "Linux",
        "cpu_model": "CPU",
        "logical_cpus": 2.0,
        "threads": 1.0,
        "device": "cpu",
        "data_source": "cifar.tar.gz",
        "data_source_sha256": "ab",
    }
    runs = pd.DataFrame(
        [
            {"kind": "search", "git_commit": "c1", "package_changed": False, **common},
            {"kind": "training", "git_commit": "c1", "package_changed": False, **common},
            {"kind": "training", "git_commit": "c2", "package_changed": True, **common},
            {"kind": "training", **{key: None for key in common}, "git_commit": None, "package_changed": None},
        ]
    )
    text = "\n".join(provenance_section(runs))
    assert "4 runs (1 search, 3 training)" in text
    assert "- Commit: `c1`, the package as committed: 2 runs" in text
    assert "- Commit: `c2`, the package changed from it: 1 run" in text
    assert "- Commit: `not recorded`, changes not recorded: 1 run" in text
    assert "- Machine: Linux, CPU, 2 logical CPUs, 1 torch thread(s) per run, device cpu: 3 runs" in text
    assert "- Data copy: cifar.tar.gz (sha256 ab): 3 runs" in text


def test_cell_drawings_do_not_depend_on_the_fonts_a_machine_has(tmp_path, monkeypatch):
    """dot measures text with fontconfig's fonts; the drawings see only matplotlib's DejaVu, whatever the
    caller's font configuration says (here: one offering only STIX, which changes the output when used)."""
    import matplotlib

    from stretchnas.report import cell_drawings

    source = cell_drawings.genotype_graph(get_genotype("DARTS_V2"), "fonts").source
    cell_drawings.font_environment.cache_clear()
    pinned = {fmt: cell_drawings.render(source, fmt) for fmt in ("svg", "png")}

    stix = tmp_path / "stix"
    stix.mkdir()
    for name in ("STIXGeneral.ttf", "LICENSE_STIX"):
        (stix / name).symlink_to(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name)
    conf = tmp_path / "stix.conf"
    conf.write_text(f'<?xml version="1.0"?><fontconfig><dir>{stix}</dir><cachedir>{tmp_path}/c</cachedir></fontconfig>')
    other = subprocess.run(
        ["dot", "-Tsvg"],
        input=source.encode(),
        capture_output=True,
        check=True,
        env={**os.environ, "FONTCONFIG_FILE": str(conf)},
    ).stdout
    assert other != pinned["svg"]  # the fonts do change dot's output

    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))
    cell_drawings.font_environment.cache_clear()
    try:
        assert {fmt: cell_drawings.render(source, fmt) for fmt in ("svg", "png")} == pinned
    finally:
        cell_drawings.font_environment.cache_clear()


def test_the_mini_scale_note_gives_params_yaml_step_counts():
    """The claims page's description of mini names the steps its searches and trainings run; it must follow
    params.yaml when those change (a stale count there once described searches three times as long)."""
    from stretchnas.report.readme import SCALE_NOTES
    from stretchnas.settings.params import load_settings

    settings = load_settings(Path(__file__).parents[1] / "params.yaml", "mini")
    darts = {e.search.epochs * e.search.max_steps_per_epoch for e in settings.experiments.values() if not e.on_nb201}
    nb201 = {e.search.epochs * e.search.max_steps_per_epoch for e in settings.experiments.values() if e.on_nb201}
    assert len(darts) == 1 and len(nb201) == 1
    train_steps = settings.train.epochs * settings.train.max_steps_per_epoch
    note = SCALE_NOTES["mini"]
    assert f"space, {darts.pop()}-step searches and {train_steps}-step trainings" in note
    assert f"On NAS-Bench-201, {nb201.pop():,}-step searches" in note


def test_search_curves_are_drawn_per_experiment_as_the_mean_over_its_searches():
    from stretchnas.report.figures import experiment_curves

    curves = pd.DataFrame(
        {
            "experiment": ["b", "b", "b", "b", "a", "a"],
            "search_seed": [0, 0, 1, 1, 3, 3],
            "epoch": [1, 2, 1, 2, 2, 1],
            "alpha_entropy_normal": [1.0, 0.5, 2.0, 1.5, 0.25, 0.75],
            "seconds": [4.0, 6.0, 8.0, 10.0, 1.0, 3.0],
        }
    )
    drawn = experiment_curves(curves)
    assert [(name, searches) for name, searches, _ in drawn] == [("a", 1), ("b", 2)]
    for name, _, mean in drawn:
        rows = curves[curves["experiment"] == name]
        for _, point in mean.iterrows():
            at_epoch = rows[rows["epoch"] == point["epoch"]]
            assert point["alpha_entropy_normal"] == pytest.approx(at_epoch["alpha_entropy_normal"].mean())
            assert point["seconds"] == pytest.approx(at_epoch["seconds"].mean())
        assert list(mean["epoch"]) == sorted(rows["epoch"].unique())
    assert experiment_curves(pd.DataFrame({"scale": []})) == []


def test_series_styles_are_distinct_for_hundreds_of_series_and_keep_the_first_forty():
    from stretchnas.report.figures import LINESTYLES, MARKERS, series_style

    styles = [tuple(sorted(series_style(index).items())) for index in range(400)]
    assert len(set(styles)) == 400
    # the first forty, which every figure but the search curves stays within, are as they were drawn before
    assert [series_style(i) for i in range(40)] == [
        {"color": f"C{i % 10}", "marker": MARKERS[i % 10], "linestyle": LINESTYLES[i // 10]} for i in range(40)
    ]

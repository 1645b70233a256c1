"""NAS-Bench-201 evidence: percentiles and snapshot lookups against the table itself, the ground-truth
selections against brute force, the NB201 claims on constructed data, and the proxy sweep's rule."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stretchnas.evaluation.lookup import Tables, lookup, score_file
from stretchnas.report.claims import CANNOT_TELL, CONTRADICTED, SUPPORTED
from stretchnas.report.nb201_claims import check_nb201_claims
from stretchnas.report.nb201_truth import LATE_FROM, distinct_cells, families, progress_curve, snapshot_spread
from stretchnas.search.proxy_sweep import SweepSpecError, choose, read_spec, summarise
from stretchnas.settings.params import load_settings

REPO = Path(__file__).resolve().parents[1]
BEST_12EP = "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
DATASETS = {"cifar10": "cifar10-test", "cifar100": "cifar100-test", "imagenet16_120": "imagenet-test"}


@pytest.fixture(scope="module")
def tables(nb201_tables) -> Tables:
    settings = load_settings(REPO / "params.yaml", "smoke", environ={"STRETCHNAS_NB201": nb201_tables})
    return Tables.from_settings(settings)


# ----------------------------------------------------------------------------- lookups


def test_a_cells_percentile_is_its_mid_rank_among_all_the_tables_cells(tables):
    full = pd.read_csv(tables.full)
    for arch in (BEST_12EP, ALL_SKIP, full["cellstr"].iloc[777], full["cellstr"].iloc[15000]):
        result = lookup(arch, tables)
        for data, column in DATASETS.items():
            mine = full.loc[full["cellstr"] == arch, column].iloc[0]
            below, tied = (full[column] < mine).sum(), (full[column] == mine).sum()  # brute force, tie included
            assert result[f"{data}_test_percentile"] == pytest.approx(100 * (below + tied / 2) / len(full), abs=1e-4)
    assert lookup(BEST_12EP, tables)["cifar10_test_percentile"] > 99.99


def _index(folder: Path, entries: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    index = {}
    for epoch, arch in entries.items():
        label = f"epoch_{epoch:03d}"
        if arch is None:
            index[label] = {"epoch": epoch, "not_derivable": "every intermediate node was dropped"}
        else:
            index[label] = {
                "epoch": epoch,
                "genotype_file": f"g{epoch}.json",
                "genotype": {"space": "nb201", "arch": arch},
            }
    (folder / "snapshots.json").write_text(json.dumps(index))
    (folder / "genotype.json").write_text(json.dumps({"space": "nb201", "arch": ALL_SKIP}))
    return folder


def test_every_snapshot_is_looked_up_in_epoch_order_as_its_cell_alone_would_be(tmp_path, tables):
    folder = _index(tmp_path / "search", {10: BEST_12EP, 2: ALL_SKIP, 6: None})
    result = score_file(folder / "genotype.json", tables, tmp_path / "result.json", folder / "snapshots.json")
    assert [s["epoch"] for s in result["snapshots"]] == [2, 6, 10]
    assert "not_derivable" in result["snapshots"][1] and "cifar10_test_acc" not in result["snapshots"][1]
    for snapshot, arch in ((result["snapshots"][0], ALL_SKIP), (result["snapshots"][2], BEST_12EP)):
        alone = lookup(arch, tables)
        for key in ("arch", "nb201_index", "cifar10_test_acc", "imagenet16_120_test_percentile"):
            assert snapshot[key] == alone[key]
    assert json.loads((tmp_path / "result.json").read_text())["snapshots"] == result["snapshots"]


# ----------------------------------------------------------------------------- ground truth during search


def snapshot_rows(experiment: str, seed: int, accuracies: list[float], archs=None) -> list[dict]:
    epochs = len(accuracies)
    return [
        {
            "experiment": experiment,
            "search_seed": seed,
            "epoch": epoch,
            "progress": epoch / epochs,
            "arch": (archs or [f"a{round(acc, 3)}" for acc in accuracies])[epoch - 1],
            "cifar10_test_acc": acc,
            "cifar100_test_acc": acc / 2,
            "imagenet16_120_test_acc": acc / 3,
            "not_derivable": None,
        }
        for epoch, acc in enumerate(accuracies, 1)
    ]


def test_the_snapshot_spread_is_the_std_over_the_late_snapshots_only():
    accs = [10.0, 80.0, 30.0, 70.0, 71.0, 72.0, 72.0, 60.0, 72.0, 72.0]
    frame = pd.DataFrame(snapshot_rows("x", 0, accs) + snapshot_rows("x", 1, [50.0] * 10))
    late = [a for epoch, a in enumerate(accs, 1) if epoch / 10 > LATE_FROM]
    assert late == accs[4:]  # epochs 5-10 of 10
    assert snapshot_spread(frame, "x") == {0: pytest.approx(float(np.std(late, ddof=1))), 1: 0.0}
    assert snapshot_spread(frame, "x", "cifar100")[0] == pytest.approx(float(np.std(late, ddof=1)) / 2)
    assert distinct_cells(frame, "x") == {0: 3, 1: 1}  # 71, 72 and 60
    curve = progress_curve(frame, "x")
    assert list(curve["progress"]) == [e / 10 for e in range(1, 11)]
    assert curve["mean"].iloc[0] == pytest.approx(30.0) and curve["n"].iloc[0] == 2


def test_families_pair_each_base_with_its_twins_by_name():
    names = ["nb201_a", "nb201_a_sc", "nb201_b", "nb201_a_simplified", "nb201_b_simplified"]
    assert families(names) == [
        ("nb201_a", "nb201_a_sc", "nb201_a_simplified"),
        ("nb201_b", None, "nb201_b_simplified"),
    ]


# ----------------------------------------------------------------------------- claims on ground truth


def claim_data(sc_acc, base_acc, simplified_acc, seconds=(100.0, 60.0), settled=None, spreads=(1.0, 5.0)):
    """One family (nb201_m, its _sc and _simplified twins), five searches each, every one moved and settled
    unless `settled` (experiment -> seeds that did not settle) says otherwise."""
    settled = settled or {}
    names = ["nb201_m", "nb201_m_sc", "nb201_m_simplified"]
    rng = np.random.default_rng(0)
    experiments = pd.DataFrame(
        {
            "experiment": names,
            "tables": ["nb201"] * 3,
            "topology_mode": ["darts", "stretchable", "darts"],
            "not_planned": [None] * 3,
        }
    )
    nb201, searches, snapshots = [], [], []
    for name, mean, cost, spread in (
        ("nb201_m", base_acc, seconds[0], spreads[1]),
        ("nb201_m_sc", sc_acc, seconds[0], spreads[0]),
        ("nb201_m_simplified", simplified_acc, seconds[1], spreads[1]),
    ):
        for seed in range(5):
            acc = mean + float(rng.normal(0, 0.3))
            nb201.append(
                {
                    "experiment": name,
                    "search_seed": seed,
                    "cifar10_test_acc": acc,
                    "cifar100_test_acc": acc - 30,
                    "imagenet16_120_test_acc": acc - 50,
                    "search_seconds": cost + float(rng.normal(0, 1)),
                }
            )
            searches.append(
                {
                    "experiment": name,
                    "search_seed": seed,
                    "searched_by": name,
                    "moved": True,
                    "settled": seed not in settled.get(name, ()),
                    "beta_moved": name.endswith("_sc"),
                    "dropped_nodes": 0,
                }
            )
            late = [acc + spread * (1 if i % 2 else -1) * (1 + 0.1 * seed) for i in range(6)]
            snapshots += snapshot_rows(name, seed, [acc] * 4 + late)
    return {
        "experiments": experiments,
        "evidence": pd.DataFrame(
            [
                {
                    "min_entropy_drop": 0.02,
                    "settled_share": 0.25,
                    "confidence": 0.95,
                    "power": 0.8,
                    "chance_confidence": 0.99,
                    "accuracy_margin": 1.0,
                }
            ]
        ),
        "searches": pd.DataFrame(searches),
        "nb201": pd.DataFrame(nb201),
        "nb201_snapshots": pd.DataFrame(snapshots),
    }


def test_nb201_claims_follow_the_ground_truth_they_are_given():
    better, simpler, steadier, regulariser = check_nb201_claims(claim_data(85.0, 70.0, 70.2))
    assert better.verdict == SUPPORTED and "nb201_m_sc vs nb201_m" in better.evidence[0]
    assert simpler.verdict == SUPPORTED  # cheaper, and its error within the margin
    assert steadier.verdict == SUPPORTED
    assert regulariser.verdict == SUPPORTED and "5 of 5" in regulariser.evidence[0]

    worse, costlier, _, _ = check_nb201_claims(claim_data(60.0, 70.0, 65.0, seconds=(60.0, 100.0)))
    assert worse.verdict == CONTRADICTED and costlier.verdict == CONTRADICTED


def test_the_simplification_keeps_accuracy_only_within_the_margin():
    # equal accuracy: supported; 0.8 points worse: the margin (1 point) decides it cannot tell or supports,
    # never contradicts; 3 points worse: contradicted
    assert check_nb201_claims(claim_data(85.0, 70.0, 70.0))[1].verdict == SUPPORTED
    assert check_nb201_claims(claim_data(85.0, 70.0, 69.2))[1].verdict != CONTRADICTED
    assert check_nb201_claims(claim_data(85.0, 70.0, 67.0))[1].verdict == CONTRADICTED


def test_a_search_that_did_not_settle_is_left_out_and_counted():
    data = claim_data(85.0, 70.0, 70.2, settled={"nb201_m_sc": (0, 1, 2, 3)})
    better = check_nb201_claims(data)[0]
    assert better.verdict == CANNOT_TELL
    assert (
        "4 of 5 searches did not settle" in better.evidence[0] and "fewer than 2 searches a side" in better.evidence[0]
    )


def test_no_nb201_claim_without_nb201_experiments():
    data = claim_data(85.0, 70.0, 70.2)
    data["experiments"]["tables"] = "table1"
    assert check_nb201_claims(data) == []


# ----------------------------------------------------------------------------- the proxy sweep's rule


def test_the_rule_takes_the_cheapest_qualifying_candidate_else_the_closest(tmp_path):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(
        "experiments: [nb201_darts_1st]\nseeds: [0, 1]\nqualify_share: 0.8\ncandidates:\n"
        + "".join(f"  - {{name: {n}, search: {{epochs: 2}}}}\n" for n in ("slow", "fast", "never"))
    )
    spec = read_spec(spec_file)

    def rows(passed: dict, seconds: dict) -> pd.DataFrame:
        out = []
        for name, flags in passed.items():
            for seed, ok in enumerate(flags):
                out.append(
                    {
                        "candidate": name,
                        "experiment": "e",
                        "search_seed": seed,
                        "moved": ok,
                        "settled": ok,
                        "passed": ok,
                        "alpha_entropy_drop": 0.1,
                        "seconds": seconds[name],
                        "steps": 10,
                    }
                )
        return pd.DataFrame(out)

    table = summarise(rows({"slow": [1, 1], "fast": [1, 1], "never": [0, 0]}, {"slow": 9, "fast": 3, "never": 1}), spec)
    assert list(table["qualifies"]) == [True, True, False] and choose(table) == "fast"
    assert table.set_index("candidate").loc["fast", "chosen"]
    # none qualifies (1 of 2 is 50%): the largest share, then the cheapest
    table = summarise(rows({"slow": [1, 0], "fast": [0, 0], "never": [1, 0]}, {"slow": 9, "fast": 3, "never": 5}), spec)
    assert not table["qualifies"].any() and choose(table) == "never"
    # a candidate the spec marks unaffordable is measured, never chosen, even where it alone qualifies
    object.__setattr__(spec.candidates[2], "affordable", False)
    table = summarise(rows({"slow": [1, 0], "fast": [0, 0], "never": [1, 1]}, {"slow": 9, "fast": 3, "never": 1}), spec)
    assert not table["qualifies"].any() and choose(table) == "slow"


HEAD = "experiments: [a]\nseeds: [0]\nqualify_share: 0.8\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("seeds: [0]\nqualify_share: 0.8\ncandidates: []\n", r"spec.yaml: experiments: missing"),
        ("experiments: [a]\nseeds: [0]\nqualify_share: 2\ncandidates: []\n", r"qualify_share: 2 is not in \(0, 1\]"),
        ("experiments: [a]\nseeds: [-1]\nqualify_share: 0.8\ncandidates: []\n", r"seeds: a non-empty list"),
        (
            "experiments: [a]\nseeds: [0]\nqualify_share: 0.8\ncandidates: [{name: x}]\n",
            r"candidates\[0\]\.search: missing",
        ),
        (
            HEAD + "candidates: [{name: x, search: {}}, {name: x, search: {}}]\n",
            r"candidates\[1\]\.name: 'x' is used twice",
        ),
    ],
)
def test_a_bad_sweep_spec_is_refused_naming_the_file_and_field(tmp_path, text, message):
    (tmp_path / "spec.yaml").write_text(text)
    with pytest.raises(SweepSpecError, match=message):
        read_spec(tmp_path / "spec.yaml")


def test_a_sweep_searches_each_candidate_and_reads_no_benchmark_table(tmp_path, tiny_search_data, monkeypatch):
    """Two tiny candidates on the tiny data: every search is run and gated, the report says which is chosen;
    the table lookup is made to fail, so a sweep that consulted it would fail too."""
    import stretchnas.evaluation.lookup as lookup_module
    from stretchnas.search.proxy_sweep import report, run_sweep

    def refuse(*args, **kwargs):
        raise AssertionError("the sweep read a NAS-Bench-201 table")

    monkeypatch.setattr(lookup_module, "_read", refuse)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(
        "scale: smoke\nexperiments: [nb201_darts_1st, nb201_gdas]\nseeds: [0, 1]\nqualify_share: 0.8\ncandidates:\n"
        "  - {name: still, search: {cells_per_stage: 1, epochs: 3, snapshot_epochs: [1, 2, 3], arch: {lr: 0.0}}}\n"
        "  - {name: fast, search: {cells_per_stage: 1, epochs: 3, snapshot_epochs: [1, 2, 3], arch: {lr: 0.5}}}\n"
    )
    spec = read_spec(spec_file)
    settings = load_settings(REPO / "params.yaml", "smoke", environ={})
    rows = run_sweep(spec, settings, tiny_search_data, tmp_path / "sweep", show_progress=False)
    assert len(rows) == 8 and set(rows["candidate"]) == {"still", "fast"}
    still = rows[rows["candidate"] == "still"]
    assert not still["moved"].any()  # an architecture learning rate of 0 cannot move alpha
    assert (still["alpha_entropy_drop"].abs() < 1e-6).all() and (rows["steps"] == 3).all()
    assert all(len(text.split()) == 3 for text in rows["alpha_entropy_by_epoch"])
    table = summarise(rows, spec)
    assert table.set_index("candidate").loc["still", "passed_share"] == 0
    text = report(rows, table, spec)
    assert "No benchmark table was read" in text and f"Chosen: `{choose(table)}`" in text
    # a second run reads the finished searches back: the same rows
    again = run_sweep(spec, settings, tiny_search_data, tmp_path / "sweep", show_progress=False)
    pd.testing.assert_frame_equal(
        again.drop(columns=["seconds"]), rows.drop(columns=["seconds"]), check_exact=False, rtol=1e-9
    )
    assert math.isfinite(rows["seconds"].sum())

"""Claims decided on NAS-Bench-201's ground truth (docs/method.md §11-12): each searched cell's accuracy is
the benchmark table's, so no training stands between a search and its score.

The same gates and statistics as the paper's claims (stretchnas.report.claims): one value per search that
passes the gates a claim needs, a two-sided Welch t-test per comparison, Holm's correction over the claim's
comparisons. Accuracies enter as test error (100 - accuracy, %), so every comparison asks whether one side
is lower.
"""

from __future__ import annotations

import pandas as pd

from stretchnas.report.claims import Rules, Sample, Verdict, _verdict, gated_searches, invalid_nodes, lower
from stretchnas.report.nb201_truth import DATA_NAMES, LATE_FROM, families, snapshot_spread

ERROR = "CIFAR-10 test error (%), NB201 12-epoch table"
FOUND = ("moved", "settled")  # a final cell counts when its search moved and settled


def nb201_experiments(experiments: pd.DataFrame) -> list[str]:
    """The NB201 experiments the plan ran, in params.yaml's order."""
    rows = experiments[experiments["tables"].fillna("").str.split(",").map(lambda tags: "nb201" in tags)]
    if "not_planned" in rows:
        rows = rows[rows["not_planned"].isna()]
    return list(rows["experiment"])


def _gated(nb201: pd.DataFrame, searches, experiment: str, column: str, gates, transform=float) -> Sample:
    rows = nb201[nb201["experiment"] == experiment] if len(nb201) else nb201
    sample = Sample(experiment, searches=len(rows))
    if rows.empty:
        return sample
    seeds, sample.failed = gated_searches(searches, experiment, sorted(rows["search_seed"]), gates)
    kept = rows[rows["search_seed"].isin(seeds)].sort_values("search_seed")
    sample.values = [transform(v) for v in kept[column].astype(float)]
    return sample


def final_error(nb201: pd.DataFrame, searches, experiment: str, data: str = "cifar10") -> Sample:
    return _gated(nb201, searches, experiment, f"{data}_test_acc", FOUND, lambda acc: 100.0 - acc)


def _other_data(nb201: pd.DataFrame, searches, a: str, b: str) -> str:
    parts = []
    for data in ("cifar100", "imagenet16_120"):
        x, y = (final_error(nb201, searches, e, data) for e in (a, b))
        if x.values and y.values:
            parts.append(
                f"{DATA_NAMES[data]} {sum(x.values) / len(x.values):.2f} vs {sum(y.values) / len(y.values):.2f}"
            )
    return f"{a} vs {b}, test error (%) on the other data sets, same searches: {'; '.join(parts)}" if parts else ""


def stretchable_beats_own_topology(nb201: pd.DataFrame, searches, names: list[str], rules: Rules) -> Verdict:
    parts, notes = [], []
    for base, sc, _ in families(names):
        if sc is None:
            continue
        parts.append(lower(final_error(nb201, searches, sc), final_error(nb201, searches, base), rules, ERROR))
        notes.append(_other_data(nb201, searches, sc, base))
    rule = f"{rules.gates(FOUND)}; one value per search (its final cell); {rules.comparison('mean ' + ERROR)}"
    return _verdict(
        "Stretchable cells find better cells than each base method's own topology",
        "NAS-Bench-201, final cells",
        parts,
        rules,
        rule,
        notes=tuple(n for n in notes if n),
    )


def simplification_keeps_accuracy_cheaper(nb201: pd.DataFrame, searches, names: list[str], rules: Rules) -> Verdict:
    parts = []
    margin = rules.accuracy_margin
    for base, _, simplified in families(names):
        if simplified is None:
            continue
        cheaper = lower(
            _gated(nb201, searches, simplified, "search_seconds", ()),
            _gated(nb201, searches, base, "search_seconds", ()),
            rules,
            "seconds per search (this run)",
            digits=1,
        )
        parts.append(cheaper)
        shifted = final_error(nb201, searches, simplified)
        shifted.values = [v - margin for v in shifted.values]
        shifted.name = f"{simplified} - {margin:g} points"
        parts.append(lower(shifted, final_error(nb201, searches, base), rules, ERROR))
    rule = (
        f"cost: every search, seconds per search; accuracy: {rules.gates(FOUND)}, 'keeps accuracy' is the simplified "
        f"search's {ERROR} below its base's plus {margin:g} points (its values shifted down by the margin); "
        + rules.comparison("means")
    )
    return _verdict(
        "Topological simplification cuts search time and keeps accuracy",
        "TopoNAS 2024 (abstract), NAS-Bench-201",
        parts,
        rules,
        rule,
    )


def spread_sample(snapshots: pd.DataFrame, searches, experiment: str) -> Sample:
    spreads = snapshot_spread(snapshots, experiment)
    sample = Sample(experiment, searches=len(spreads))
    seeds, sample.failed = gated_searches(searches, experiment, sorted(spreads), ("moved",))
    sample.values = [spreads[seed] for seed in seeds]
    return sample


def more_stable_on_ground_truth(snapshots: pd.DataFrame, searches, names: list[str], rules: Rules) -> Verdict:
    parts = []
    for base, sc, _ in families(names):
        if sc is None:
            continue
        parts.append(
            lower(
                spread_sample(snapshots, searches, sc),
                spread_sample(snapshots, searches, base),
                rules,
                "std of CIFAR-10 test acc. (%) over a search's late snapshot cells",
            )
        )
    rule = (
        f"{rules.gates(('moved',))}; per search, the standard deviation of the table's CIFAR-10 test accuracy of the "
        f"cells derived at its snapshots past {LATE_FROM:.0%} of the search (Table 4's measure, on ground truth); "
        + rules.comparison("mean standard deviation over searches")
    )
    return _verdict(
        "Cells searched with topology variables vary less across snapshots than without",
        "Table 4's question, NAS-Bench-201",
        parts,
        rules,
        rule,
    )


def check_nb201_claims(data: dict[str, pd.DataFrame]) -> list[Verdict]:
    """The NAS-Bench-201 claims, from the tables stage's data; none where no NB201 experiment has results."""
    names = nb201_experiments(data["experiments"])
    if not names:
        return []
    rules = Rules.of(data.get("evidence"))
    searches, nb201 = data.get("searches"), data["nb201"]
    return [
        stretchable_beats_own_topology(nb201, searches, names, rules),
        simplification_keeps_accuracy_cheaper(nb201, searches, names, rules),
        more_stable_on_ground_truth(data["nb201_snapshots"], searches, names, rules),
        invalid_nodes(searches, data["experiments"], rules, set(names), "NAS-Bench-201 searches"),
    ]

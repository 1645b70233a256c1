"""Evidence gates and the claims' statistics, against the formulas they stand for."""

import json
import math

import pandas as pd
import pytest

from stretchnas.method.published_genotypes import get_genotype
from stretchnas.report.evidence import chance_p_value, search_gates, settled, training_gates
from stretchnas.report.stats import holm, one_sample, power_at, searches_needed, welch
from stretchnas.search.snapshots import INDEX_FILE
from stretchnas.settings.types import EvidenceSettings

# ----------------------------------------------------------------------------- statistics


def t_quantile(q: float, df: float) -> float:
    """The Student t quantile (q > 1/2) by bisection on its CDF."""

    def cdf(t: float) -> float:
        # 1/2 + the density's integral from 0 to t (Simpson), independent of scipy's special functions
        density = lambda x: (1 + x * x / df) ** (-(df + 1) / 2)  # noqa: E731
        steps = 20000
        h = t / steps
        total = density(0.0) + density(t) + sum((4 if i % 2 else 2) * density(i * h) for i in range(1, steps))
        norm = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
        return 0.5 + norm * total * h / 3

    low, high = 0.0, 60.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if cdf(mid) < q else (low, mid)
    return (low + high) / 2


def test_welchs_interval_is_the_textbook_formula():
    a, b = [2.0, 2.3, 2.1, 2.6], [3.1, 2.7, 3.3]
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1) / len(a)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_quantile(0.975, df) * math.sqrt(va + vb)
    test = welch(a, b)
    assert test.difference == pytest.approx(ma - mb)
    assert (test.low, test.high) == pytest.approx((ma - mb - half, ma - mb + half), rel=1e-4)
    # the one-sample interval of paired differences
    d = [-0.5, -0.2, -0.4]
    md = sum(d) / 3
    sd = math.sqrt(sum((x - md) ** 2 for x in d) / 2)
    half = t_quantile(0.975, 2) * sd / math.sqrt(3)
    assert (one_sample(d).low, one_sample(d).high) == pytest.approx((md - half, md + half), rel=1e-4)


def test_holms_adjusted_p_values():
    # sorted 0.01, 0.03, 0.04 times 3, 2, 1, made monotone: 0.03, 0.06, 0.06
    assert holm([0.04, 0.01, 0.03]) == pytest.approx([0.06, 0.03, 0.06])
    assert holm([0.2, math.nan]) == pytest.approx([0.2, math.nan], nan_ok=True)
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])


def test_the_searches_needed_match_the_normal_closed_form_at_large_n():
    z = {0.975: 1.959963984540054, 0.8: 0.8416212335729143}
    for effect in (0.25, 0.5, 0.8):
        closed = math.ceil(2 * (z[0.975] + z[0.8]) ** 2 / effect**2)  # known spread 1, a z-test
        needed = searches_needed(effect, 1.0, 1.0, alpha=0.05, power=0.8)
        assert closed <= needed <= closed + 2, (effect, closed, needed)  # the t-test pays a search or two
    assert power_at(needed, 0.8, 1.0, 1.0, 0.05) >= 0.8 > power_at(needed - 1, 0.8, 1.0, 1.0, 0.05)
    assert searches_needed(0.0, 1.0, 1.0, 0.05) is None  # no difference: no number of searches decides it


# ----------------------------------------------------------------------------- trainings


def test_a_training_learned_when_its_correct_answers_beat_chance_binomially():
    n, classes = 200, 10
    for error in (90.0, 86.0, 85.0, 80.0, 50.0):
        correct = round((100 - error) / 100 * n)
        brute = sum(math.comb(n, k) * 0.1**k * 0.9 ** (n - k) for k in range(correct, n + 1))
        assert chance_p_value(error, n, classes) == pytest.approx(brute, rel=1e-9)
    frame = pd.DataFrame({"test_error": [90.0, 80.0, 50.0], "test_images": [200] * 3, "num_classes": [10] * 3})
    gated = training_gates(frame, EvidenceSettings(chance_confidence=0.99))
    assert list(gated["learned"]) == [False, True, True] and list(gated["chance_error"]) == [90.0] * 3
    unknown = training_gates(frame.drop(columns="num_classes"), EvidenceSettings())
    assert list(unknown["learned"]) == [None] * 3  # not recorded: not shown to have learned


# ----------------------------------------------------------------------------- searches


def test_settled_reads_the_last_share_of_snapshot_steps():
    chain = [(1, "a"), (2, "b"), (3, "c"), (4, "c"), (5, "c")]
    assert settled(chain, 0.25) == (4, 1, True)
    assert settled(chain, 0.5) == (4, 2, True)
    assert settled(chain, 0.75) == (4, 3, False)
    assert settled([(1, "a"), (2, None)], 0.25) == (1, 1, False)  # no derivable cell is not a settled one
    assert settled([(1, "a")], 0.25) == (0, 0, None)


def write_search(folder, entropies, snapshots, final, beta=None):
    folder.mkdir(parents=True)
    metrics = {"epoch": list(range(1, len(entropies) + 1)), "alpha_entropy_normal": entropies, "dropped_nodes": 0}
    if beta:
        metrics["beta_entropy_normal"] = beta
    pd.DataFrame(metrics).to_csv(folder / "metrics.csv", index=False)
    index = {f"epoch_{e:03d}": {"epoch": e, "genotype": get_genotype(name).to_dict()} for e, name in snapshots}
    (folder / INDEX_FILE).write_text(json.dumps(index))
    get_genotype(final).save(folder / "genotype.json")
    return pd.read_csv(folder / "metrics.csv")


def test_a_search_moved_and_settled_by_its_records(tmp_path):
    evidence = EvidenceSettings(min_entropy_drop=0.05, settled_share=0.25)
    runs = {
        # moved, cell unchanged over the last step (the final cell is the last snapshot's epoch: no step)
        ("moves", 0): ([2.07, 1.9, 1.7, 1.5], [(2, "DARTS_V1"), (3, "DARTS_V2"), (4, "DARTS_V2")], "DARTS_V2", None),
        # did not move, and its cell still changes
        ("flat", 0): (
            [2.079, 2.079, 2.079, 2.078],
            [(2, "DARTS_V1"), (4, "DARTS_V2")],
            "DARTS_V2",
            [1.2, 1.2, 1.2, 1.2],
        ),
        # moved; its final cell (a later epoch than the last snapshot) differs from that snapshot
        ("late", 0): ([2.07, 1.5, 1.2, 1.0], [(2, "DARTS_V2"), (3, "DARTS_V2")], "DARTS_V1", None),
    }
    curves, dirs = [], []
    for (name, seed), (entropies, snapshots, final, beta) in runs.items():
        folder = tmp_path / name
        curves.append(write_search(folder, entropies, snapshots, final, beta).assign(experiment=name, search_seed=seed))
        dirs.append((name, seed, folder))
    gates = search_gates(pd.concat(curves, ignore_index=True), dirs, evidence).set_index("experiment")
    assert gates.loc["moves", "moved"] and gates.loc["moves", "settled"]
    assert gates.loc["moves", "alpha_entropy_drop"] == pytest.approx(0.57)
    assert not gates.loc["flat", "moved"] and not gates.loc["flat", "settled"]
    assert gates.loc["flat", "beta_moved"] is False or not gates.loc["flat", "beta_moved"]
    assert pd.isna(gates.loc["moves", "beta_moved"])  # no beta: no beta gate
    assert gates.loc["late", "moved"] and not gates.loc["late", "settled"]
    assert gates.loc["late", "snapshot_steps"] == 2  # 2 -> 3, then 3 -> final

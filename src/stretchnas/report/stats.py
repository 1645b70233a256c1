"""The statistics every report table and claim uses: mean ± std with n over search seeds and over
training seeds (kept apart), the best search labelled as such, and the tests the claims decide with:
Welch's t-interval of a difference of means (or a one-sample t-interval), Holm's correction over a
claim's comparisons, and the searches a side that an undecided comparison would need."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
POWER = 0.8
# The most searches a side the power estimate looks for: beyond this it says "more than".
MAX_SEARCHES = 1000


def mean_std(values) -> tuple[float, float, int]:
    """(mean, sample std, n); std is NaN for one value."""
    values = [float(v) for v in values]
    n = len(values)
    if n == 0:
        return math.nan, math.nan, 0
    return float(np.mean(values)), float(np.std(values, ddof=1)) if n > 1 else math.nan, n


def format_mean_std(mean: float, std: float, n: int, digits: int = 2, unit: str = "") -> str:
    """'2.58 ± 0.11 (n=3 searches)'; one value has no spread: '2.58 (n=1 search)'. `unit`: what n
    counts, plural (searches, trainings, epochs, steps); its singular drops the final 's' or 'es'."""
    if n == 0 or math.isnan(mean):
        return "no value"
    spread = "" if n < 2 or math.isnan(std) else f" ± {std:.{digits}f}"
    return f"{mean:.{digits}f}{spread} (n={n}{_unit(unit, n)})"


def _unit(unit: str, n: int) -> str:
    if not unit:
        return ""
    if n == 1:
        unit = unit[:-2] if unit.endswith("ches") else unit[:-1]
    return f" {unit}"


def per_search(runs: pd.DataFrame, value: str = "test_error") -> pd.Series:
    """One number per search seed: the mean of `value` over that search's training seeds."""
    return runs.groupby("search_seed", sort=True)[value].mean()


@dataclass(frozen=True)
class SeedSummary:
    """An experiment's test error two ways: across searches (each search's mean over its trainings),
    and across the training seeds of its best search (the protocol of the papers' "best cell" rows)."""

    searches: tuple[float, float, int]  # over search seeds
    best_seed: int | None
    best_search: tuple[float, float, int]  # over the best search's training seeds

    @property
    def over_searches(self) -> str:
        return format_mean_std(*self.searches, unit="searches")

    @property
    def best_over_trainings(self) -> str:
        if self.best_seed is None:
            return "no value"
        n_searches = self.searches[2]
        text = format_mean_std(*self.best_search, unit="trainings")
        if n_searches < 2:
            return f"{text}, the only search"
        # picked on test error, as the sources' best-cell rows were: optimistic by construction
        return f"{text}, best of {n_searches} searches (seed {self.best_seed}, picked on test error)"


def seed_summary(runs: pd.DataFrame, value: str = "test_error") -> SeedSummary:
    """`runs`: one row per training (columns search_seed, train_seed, `value`)."""
    if runs.empty:
        return SeedSummary((math.nan, math.nan, 0), None, (math.nan, math.nan, 0))
    means = per_search(runs, value)
    best_seed = int(means.idxmin())
    best = runs[runs["search_seed"] == best_seed][value]
    return SeedSummary(mean_std(means), best_seed, mean_std(best))


@dataclass(frozen=True)
class Test:
    """One comparison: the difference of means (the effect, in the compared unit) with its two-sided
    interval at `confidence`, and the two-sided p-value of 'no difference'."""

    difference: float
    low: float
    high: float
    p_value: float
    confidence: float


def _test(result, difference: float, confidence: float) -> Test:
    """A Test from scipy's t-test result (its interval at `confidence`)."""
    interval = result.confidence_interval(confidence)
    return Test(float(difference), float(interval.low), float(interval.high), float(result.pvalue), confidence)


def welch(a, b, confidence: float = CONFIDENCE) -> Test:
    """mean(a) - mean(b): Welch's t-test and interval (unequal variances), valid at small n. Needs two
    values a side; a side with no spread at all has no t-interval (its p-value is NaN then)."""
    result = stats.ttest_ind(np.asarray(a, float), np.asarray(b, float), equal_var=False)
    return _test(result, np.mean(a) - np.mean(b), confidence)


def one_sample(differences, confidence: float = CONFIDENCE) -> Test:
    """mean(differences) against 0: the one-sample t-test and interval (paired comparisons)."""
    return _test(stats.ttest_1samp(np.asarray(differences, float), 0.0), np.mean(differences), confidence)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error over the comparisons of one claim); NaN stays
    NaN and is not counted in the family."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m, adjusted, running = len(indexed), [math.nan] * len(p_values), 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def searches_needed(difference: float, std_a: float, std_b: float, alpha: float, power: float = POWER) -> int | None:
    """The smallest n a side at which a two-sided Welch test at level `alpha` detects `difference` with
    `power`, if the spreads are `std_a` and `std_b` (noncentral t, Welch-Satterthwaite degrees of freedom);
    None where there is no difference or no spread to go on, or beyond MAX_SEARCHES."""
    if not difference or math.isnan(difference) or math.isnan(std_a) or math.isnan(std_b):
        return None
    for n in range(2, MAX_SEARCHES + 1):
        if power_at(n, difference, std_a, std_b, alpha) >= power:
            return n
    return None


def power_at(n: int, difference: float, std_a: float, std_b: float, alpha: float) -> float:
    """Power of the two-sided Welch test with n searches a side."""
    va, vb = std_a**2 / n, std_b**2 / n
    if va + vb == 0:
        return 1.0
    df = (va + vb) ** 2 / (va**2 / (n - 1) + vb**2 / (n - 1))
    noncentrality = abs(difference) / math.sqrt(va + vb)
    critical = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(critical, df, noncentrality) + stats.nct.cdf(-critical, df, noncentrality))

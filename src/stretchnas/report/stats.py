"""The statistics every report table and claim uses: mean ± std with n over search seeds and over
training seeds (kept apart), the best search labelled as such, and a bootstrap over search seeds."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95


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


def bootstrap_difference(
    a, b, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED, confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """mean(a) - mean(b), with a percentile bootstrap interval: each group resampled with replacement,
    independently (the units are searches). Seeded: the same inputs give the same interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    draws_a = rng.choice(a, size=(resamples, len(a)), replace=True).mean(axis=1)
    draws_b = rng.choice(b, size=(resamples, len(b)), replace=True).mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws_a - draws_b, [tail, 100 - tail])
    return float(a.mean() - b.mean()), float(low), float(high)

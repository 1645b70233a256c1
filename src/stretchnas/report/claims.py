"""The paper's claims, each checked against one scale's numbers with a stated rule.

A verdict is "supported", "contradicted" or "cannot tell". Comparisons between experiments use
searches as the unit (each search's mean over its training seeds): the claim is supported when the
95% bootstrap interval of the difference lies wholly on the claimed side of zero, contradicted when it
lies wholly on the other side, and undecided otherwise. Fewer than three searches on either side give
no verdict: the search-to-search spread, which the paper's own protocol shows to be large, is then
barely known, and even at three the bootstrap is optimistic (every rule says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from stretchnas.report.frames import edits_per_derivable_step, final_runs
from stretchnas.report.stats import CONFIDENCE, bootstrap_difference, per_search

SUPPORTED, CONTRADICTED, CANNOT_TELL = "supported", "contradicted", "cannot tell"
# A percentile bootstrap over very few searches is narrow (two searches give three resampled means):
# below three a side, no verdict.
MIN_SEARCHES = 3
# Parameter counts further apart than this make an error comparison not "at similar parameters".
PARAMS_TOLERANCE = 0.15


def comparison_rule(what: str = "mean test error over searches (each search averaged over its training seeds)") -> str:
    return (
        f"difference of {what}, {CONFIDENCE:.0%} percentile bootstrap interval over searches; supported if the "
        f"interval lies below 0, contradicted if above 0, otherwise cannot tell; at least {MIN_SEARCHES} "
        f"searches a side (a percentile bootstrap over so few searches is narrow: read borderline verdicts "
        f"with care)"
    )


COMPARISON_RULE = comparison_rule()


@dataclass(frozen=True)
class Verdict:
    claim: str
    artefact: str  # the table or figure of the paper that states it
    verdict: str
    evidence: tuple[str, ...]  # one line per comparison, with its numbers
    rule: str


@dataclass(frozen=True)
class Comparison:
    verdict: str
    text: str


def combine(parts: list[Comparison]) -> str:
    """All parts supported: supported; any contradicted: contradicted; otherwise cannot tell."""
    verdicts = [part.verdict for part in parts]
    if verdicts and all(v == SUPPORTED for v in verdicts):
        return SUPPORTED
    return CONTRADICTED if CONTRADICTED in verdicts else CANNOT_TELL


def lower(a_name: str, a, b_name: str, b, what: str = "test error (%)", digits: int = 2) -> Comparison:
    """Is `a` lower than `b`? a, b: one value per search."""
    a, b = list(a), list(b)
    if not a or not b:
        missing = a_name if not a else b_name
        return Comparison(CANNOT_TELL, f"{a_name} vs {b_name}: no result for {missing}")
    if min(len(a), len(b)) < MIN_SEARCHES:
        return Comparison(
            CANNOT_TELL,
            f"{a_name} vs {b_name}: {len(a)} vs {len(b)} searches, too few to tell "
            f"(means {_mean(a):.{digits}f} vs {_mean(b):.{digits}f} {what})",
        )
    diff, low, high = bootstrap_difference(a, b)
    verdict = SUPPORTED if high < 0 else CONTRADICTED if low > 0 else CANNOT_TELL
    interval = f"{CONFIDENCE:.0%} interval [{low:+.{digits}f}, {high:+.{digits}f}]"
    return Comparison(
        verdict,
        f"{a_name} {_mean(a):.{digits}f} vs {b_name} {_mean(b):.{digits}f} {what} "
        f"(n={len(a)} vs {len(b)} searches): difference {diff:+.{digits}f}, {interval}: "
        f"{verdict}",
    )


def below_zero(name: str, differences, what: str = "test error difference (%)") -> Comparison:
    """Is the mean of per-search differences below zero?"""
    differences = list(differences)
    if len(differences) < MIN_SEARCHES:
        mean = f" (mean {_mean(differences):+.2f})" if differences else ""
        searches = "1 search" if len(differences) == 1 else f"{len(differences)} searches"
        return Comparison(CANNOT_TELL, f"{name}: {searches}, too few to tell{mean}")
    diff, low, high = bootstrap_difference(differences, [0.0])
    verdict = SUPPORTED if high < 0 else CONTRADICTED if low > 0 else CANNOT_TELL
    return Comparison(
        verdict,
        f"{name}: mean {what} {diff:+.2f} (n={len(differences)} searches), "
        f"{CONFIDENCE:.0%} interval [{low:+.2f}, {high:+.2f}]: {verdict}",
    )


def _mean(values) -> float:
    return sum(values) / len(values)


# --------------------------------------------------------------------------- inputs


def search_errors(evaluations: pd.DataFrame, experiment: str, layers: int | None = None) -> list[float]:
    runs = final_runs(evaluations, experiment, layers)
    return [] if runs.empty else list(per_search(runs))


def _params(evaluations: pd.DataFrame, experiment: str) -> float | None:
    runs = final_runs(evaluations, experiment)
    return None if runs.empty else float(runs["params_m"].mean())


# --------------------------------------------------------------------------- the claims

# Table 1: the stretchable cell searched at 8 layers against the baselines searched at 8 layers.
TABLE1_SC, TABLE1_BASELINES = "milenas_sc_L8", ("darts_1st_L8", "darts_2nd_L8", "milenas_L8")
CELL_DARTS, CELL_SC = ("darts_1st_L8", "darts_2nd_L8"), ("milenas_sc_L8",)
FIGURE4_SC = ("milenas_sc_L8", "milenas_sc_L12", "milenas_sc_L16", "milenas_sc_L20")
STABLE, UNSTABLE = "darts_wo_sc", "darts_2nd_L8"  # Table 4's two methods
OUTPUT_EDGES, INPUT_EDGES = "darts_wo_sc", "darts_wo_sc_input"  # Table 5's DARTS w/o SC row
ARBITRARY, FIXED_K = "darts_sc_arbitrary", ("darts_sc_out1", "darts_sc_out2", "darts_sc_out3", "darts_sc_out4")


def beats_baselines(evaluations: pd.DataFrame) -> Verdict:
    parts = []
    for baseline in TABLE1_BASELINES:
        part = lower(TABLE1_SC, search_errors(evaluations, TABLE1_SC), baseline, search_errors(evaluations, baseline))
        sc_params, base_params = _params(evaluations, TABLE1_SC), _params(evaluations, baseline)
        # a win with more parameters is not a win "at similar parameters"; a loss stays a loss
        unmatched = sc_params and base_params and abs(sc_params / base_params - 1) > PARAMS_TOLERANCE
        if unmatched and part.verdict == SUPPORTED:
            part = Comparison(
                CANNOT_TELL,
                f"{part.text}; but params differ ({sc_params:.3f}M vs {base_params:.3f}M), "
                f"beyond {PARAMS_TOLERANCE:.0%}",
            )
        parts.append(part)
    rule = f"{COMPARISON_RULE}; each pair's params within {PARAMS_TOLERANCE:.0%}"
    return Verdict(
        "Stretchable cells beat DARTS and MiLeNAS at similar parameters",
        "Table 1",
        combine(parts),
        tuple(p.text for p in parts),
        rule,
    )


def shallow_and_wide(cells: pd.DataFrame) -> Verdict:
    def values(experiments, column):
        return list(cells[cells["experiment"].isin(experiments)][column]) if len(cells) else []

    darts, sc = "+".join(CELL_DARTS), "+".join(CELL_SC)
    shallower = lower(
        darts, values(CELL_DARTS, "depth_normal"), sc, values(CELL_SC, "depth_normal"), "normal-cell depth (ops)"
    )
    # wider: the SC cell's width is lower than DARTS's
    wider = lower(
        sc,
        values(CELL_SC, "width_normal"),
        darts,
        values(CELL_DARTS, "width_normal"),
        "normal-cell width (edges from the cell inputs)",
    )
    rule = (
        "depth: longest path in ops from a cell input to the output; width: edges leaving the two cell inputs; "
        "one value per search (its final cell); " + comparison_rule("mean value over searches")
    )
    return Verdict(
        "At 8 layers, DARTS cells are shallower and wider than stretchable cells",
        "Figure 3 / Table 1 text",
        combine([shallower, wider]),
        (shallower.text, wider.text),
        rule,
    )


def best_at_own_layers(evaluations: pd.DataFrame) -> Verdict:
    parts = []
    for experiment in FIGURE4_SC:
        runs = evaluations[(evaluations["experiment"] == experiment) & (evaluations["genotype"] == "final")]
        if runs.empty:
            parts.append(Comparison(CANNOT_TELL, f"{experiment}: no result"))
            continue
        own = int(runs[runs["own_layers"]]["layers"].iloc[0]) if runs["own_layers"].any() else None
        if own is None:
            parts.append(Comparison(CANNOT_TELL, f"{experiment}: not evaluated at its own layers"))
            continue
        for other in sorted(set(runs["layers"]) - {own}):
            # paired by search: the same cell at two depths
            own_err, other_err = per_search(runs[runs["layers"] == own]), per_search(runs[runs["layers"] == other])
            seeds = own_err.index.intersection(other_err.index)
            diffs = list(own_err[seeds] - other_err[seeds])
            parts.append(below_zero(f"{experiment}: test error at L{own} minus at L{other}", diffs))
    rule = (
        "for each stretchable cell and each other evaluation depth, the per-search difference of test error "
        "(own depth minus other depth), each averaged over training seeds; "
        + comparison_rule("the mean per-search difference from 0")
    )
    return Verdict(
        "Each stretchable cell is best at its own search layer count",
        "Figures 1 and 4",
        combine(parts),
        tuple(p.text for p in parts),
        rule,
    )


def stability_changes(stability: pd.DataFrame, experiment: str) -> tuple[list[float], int]:
    """Per search: edges and ops changed (both cell types) per step between consecutive snapshots (and the
    last snapshot to the final cell), averaged over the steps whose two cells are derivable; and how many
    steps were not. A step with no derivable cell is left out, never counted as no change."""
    if stability.empty:
        return [], 0
    rows = stability[stability["experiment"] == experiment]
    return list(edits_per_derivable_step(rows)["edits"].astype(float)), int(rows["not_derivable"].sum())


def more_stable(stability: pd.DataFrame) -> Verdict:
    (stable, stable_gaps), (unstable, unstable_gaps) = (stability_changes(stability, e) for e in (STABLE, UNSTABLE))
    part = lower(STABLE, stable, UNSTABLE, unstable, "cell edits per snapshot step", digits=1)
    gaps = f"steps without a derivable cell, left out: {STABLE} {stable_gaps}, {UNSTABLE} {unstable_gaps}"
    rule = (
        "per search, edges gained or lost plus ops changed per step between consecutive snapshot genotypes "
        "(no training), over the steps whose cells are derivable; "
        + comparison_rule("mean edits per step over searches")
    )
    return Verdict(
        "Cells learned with explicit topology are more stable across search epochs than DARTS's",
        "Table 4",
        part.verdict,
        (part.text, gaps),
        rule,
    )


def output_beats_input(evaluations: pd.DataFrame) -> Verdict:
    part = lower(
        OUTPUT_EDGES, search_errors(evaluations, OUTPUT_EDGES), INPUT_EDGES, search_errors(evaluations, INPUT_EDGES)
    )
    note = "the paper's own DARTS (2nd order) row has output edges worse (2.82 vs 2.76); its claim is on DARTS w/o SC"
    return Verdict(
        "Selecting output edges beats selecting input edges",
        "Table 5",
        part.verdict,
        (part.text, note),
        COMPARISON_RULE,
    )


def arbitrary_beats_fixed(evaluations: pd.DataFrame) -> Verdict:
    parts = [
        lower(ARBITRARY, search_errors(evaluations, ARBITRARY), fixed, search_errors(evaluations, fixed))
        for fixed in FIXED_K
    ]
    return Verdict(
        "An arbitrary number of outputs per node beats every fixed number",
        "Figure 5",
        combine(parts),
        tuple(p.text for p in parts),
        COMPARISON_RULE,
    )


def no_invalid_node(search_dynamics: pd.DataFrame, experiments: pd.DataFrame) -> Verdict:
    rule = (
        f"every search with topology variables ends (last epoch) with no dropped node, i.e. no intermediate node "
        f"left without an input; at least {MIN_SEARCHES} searches; one dropped node contradicts"
    )
    claim = "The passive-aggressive regulariser leaves no invalid node"
    with_beta = set(experiments[experiments["topology_mode"].map(has_topology_variables)]["experiment"])
    if search_dynamics.empty or "dropped_nodes" not in search_dynamics:
        return Verdict(claim, "Method (regulariser)", CANNOT_TELL, ("no search metrics",), rule)
    rows = search_dynamics[search_dynamics["experiment"].isin(with_beta)]
    last = rows.sort_values("epoch").groupby(["experiment", "search_seed"]).tail(1)
    dropped = last[last["dropped_nodes"] > 0]
    n = len(last)
    if len(dropped):
        names = ", ".join(f"{r.experiment} seed {r.search_seed}: {r.dropped_nodes}" for r in dropped.itertuples())
        return Verdict(
            claim,
            "Method (regulariser)",
            CONTRADICTED,
            (f"{len(dropped)} of {n} searches end with dropped nodes ({names})",),
            rule,
        )
    verdict = SUPPORTED if n >= MIN_SEARCHES else CANNOT_TELL
    return Verdict(
        claim,
        "Method (regulariser)",
        verdict,
        (f"{n} searches with topology variables, none ends with a dropped node",),
        rule,
    )


def has_topology_variables(topology_mode: str) -> bool:
    from stretchnas.method.topology import mode_space

    return mode_space(topology_mode).has_beta


def check_claims(data: dict[str, pd.DataFrame]) -> list[Verdict]:
    """Every claim, in the paper's order, from the tables stage's data."""
    evaluations = data["evaluations"]
    return [
        beats_baselines(evaluations),
        shallow_and_wide(data["cells"]),
        best_at_own_layers(evaluations),
        more_stable(data["stability"]),
        output_beats_input(evaluations),
        arbitrary_beats_fixed(evaluations),
        no_invalid_node(data["search_dynamics"], data["experiments"]),
    ]

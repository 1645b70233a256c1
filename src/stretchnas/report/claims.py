"""The paper's claims, each checked against one scale's numbers with a stated rule (docs/method.md §11).

A verdict is "supported", "contradicted" or "cannot tell". A claim is judged only on the runs that pass
the evidence gates it needs (stretchnas.report.evidence: a search that moved and settled, a training that
learned); the others are counted out, and the page says how many and why. Comparisons between
experiments use searches as the unit (each search's mean over its trainings that learned): a two-sided
Welch t-test per comparison, Holm's correction over the claim's comparisons, and a comparison decides
when its corrected p-value is below 1 - confidence, in the direction of its mean difference. The claim is
supported when every comparison decides for it, contradicted when one decides against it, and otherwise
cannot tell; an undecided comparison says about how many searches a side would decide a difference of
the size observed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from stretchnas.report.frames import edits_per_derivable_step, final_runs
from stretchnas.report.stats import Test, holm, one_sample, per_search, searches_needed, welch
from stretchnas.settings.types import EvidenceSettings

SUPPORTED, CONTRADICTED, CANNOT_TELL = "supported", "contradicted", "cannot tell"
# A t-interval needs a spread, so two searches a side at least
MIN_SEARCHES = 2
# Claim 7 is an existence claim (no node is ever dropped): it needs this many searches that could drop one
MIN_REGULARIZED_SEARCHES = 3
# Parameter counts further apart than this make an error comparison not "at similar parameters".
PARAMS_TOLERANCE = 0.15
# What a failed gate means, in words
GATE_WORDS = {"moved": "did not move", "settled": "did not settle", "learned": "have no training that learned"}
# The gates a comparison of final cells' test errors needs
TRAINED_CELL = ("moved", "settled", "learned")


@dataclass(frozen=True)
class Rules(EvidenceSettings):
    """The claims' settings (params.yaml `evidence`, as the tables stage recorded them in data/evidence.csv),
    with the words the page states them in."""

    @classmethod
    def of(cls, evidence: pd.DataFrame | None) -> Rules:
        if evidence is None or evidence.empty:
            return cls()
        row = evidence.iloc[0]
        return cls(**{name: float(row[name]) for name in cls.__dataclass_fields__ if name in row})

    def gates(self, names) -> str:
        words = {
            "moved": f"searches that moved (mean alpha entropy down at least {self.min_entropy_drop:g} nats)",
            "settled": f"that settled (cell unchanged over the last {self.settled_share:.0%} of snapshot steps)",
            "learned": f"trainings that learned (below chance at {self.chance_confidence:.0%} binomial confidence)",
            "beta_moved": f"searches whose beta moved (mean beta entropy down at least {self.min_entropy_drop:g} nats)",
        }
        return "judged on " + ", ".join(words[name] for name in names)

    def comparison(self, what: str = "mean test error over searches") -> str:
        return (
            f"difference of {what}; two-sided Welch t-test per comparison, Holm's correction over the claim's "
            f"comparisons at family-wise {self.confidence:.0%}; a comparison decides when its corrected p-value is "
            f"below {1 - self.confidence:.2g}, in the direction of its difference; at least {MIN_SEARCHES} "
            "searches a side"
        )


@dataclass(frozen=True)
class Verdict:
    claim: str
    artefact: str  # the table or figure of the paper that states it
    verdict: str
    evidence: tuple[str, ...]  # one line per comparison, with its numbers
    rule: str


# --------------------------------------------------------------------------- gated samples


@dataclass
class Sample:
    """One experiment's values, one per search that passed the gates, and how many did not."""

    name: str
    values: list[float] = field(default_factory=list)
    searches: int = 0  # searches with a result, before the gates
    failed: dict[str, int] = field(default_factory=dict)  # gate -> searches that failed it

    def excluded(self) -> str:
        """'1 of 3 searches did not move' for each failed gate; empty when none failed."""
        return "; ".join(
            f"{n} of {self.searches} search{'' if self.searches == 1 else 'es'} {GATE_WORDS[gate]}"
            for gate, n in self.failed.items()
            if n
        )


def _search_gates(searches: pd.DataFrame | None, experiment: str, seed) -> dict:
    if searches is None or searches.empty:
        return {}
    rows = searches[(searches["experiment"] == experiment) & (searches["search_seed"] == seed)]
    return {} if rows.empty else rows.iloc[0].to_dict()


def passes(value) -> bool:
    """A gate's recorded value as passed or not: unknown (empty) does not pass."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return False
    return value.strip().lower() == "true" if isinstance(value, str) else bool(value)


def gated_searches(searches: pd.DataFrame | None, experiment: str, seeds, gates) -> tuple[list, dict[str, int]]:
    """The seeds whose search passes every search gate in `gates`, and the count failing each (a search
    with no gate record fails them: nothing shows it did what it is named for)."""
    kept, failed = [], {gate: 0 for gate in gates if gate != "learned"}
    for seed in seeds:
        record = _search_gates(searches, experiment, seed)
        failing = [gate for gate in failed if not passes(record.get(gate))]
        for gate in failing[:1]:  # counted once, by its first failed gate
            failed[gate] += 1
        if not failing:
            kept.append(seed)
    return kept, failed


def _learned(runs: pd.DataFrame) -> pd.DataFrame:
    """The trainings that learned (none where the gate was not recorded)."""
    if "learned" not in runs or runs.empty:
        return runs.iloc[0:0]
    return runs.loc[[passes(value) for value in runs["learned"]]]


def _gated_runs(
    evaluations: pd.DataFrame, searches: pd.DataFrame | None, experiment: str, gates, layers: int | None = None
) -> tuple[pd.DataFrame, Sample]:
    """An experiment's trainings of its final cell at `layers` (default: its own) from the searches that pass
    `gates` (and only those that learned, where `learned` is a gate), with how many searches each gate left
    out."""
    runs = final_runs(evaluations, experiment, layers)
    sample = Sample(experiment, searches=runs["search_seed"].nunique() if len(runs) else 0)
    if runs.empty:
        return runs, sample
    seeds, sample.failed = gated_searches(searches, experiment, sorted(runs["search_seed"].unique()), gates)
    runs = runs[runs["search_seed"].isin(seeds)]
    if "learned" in gates:
        runs = _learned(runs)
        sample.failed["learned"] = len(seeds) - runs["search_seed"].nunique()
    return runs, sample


def final_errors(
    evaluations: pd.DataFrame,
    searches: pd.DataFrame | None,
    experiment: str,
    gates=TRAINED_CELL,
    layers: int | None = None,
) -> Sample:
    """Per search that passes `gates`: the mean test error of its final cell's trainings (those that learned,
    where `learned` is a gate)."""
    runs, sample = _gated_runs(evaluations, searches, experiment, gates, layers)
    sample.values = [] if runs.empty else list(per_search(runs))
    return sample


# --------------------------------------------------------------------------- comparisons


@dataclass(frozen=True)
class Part:
    """One comparison of a claim, before the correction: the claim says `difference` < 0."""

    label: str
    numbers: str
    test: Test | None
    reason: str = ""  # why there is no test
    spreads: tuple[float, float] = (math.nan, math.nan)


@dataclass(frozen=True)
class Decision:
    verdict: str
    text: str


def _mean(values) -> float:
    return sum(values) / len(values)


def _std(values) -> float:
    return float(pd.Series(values, dtype=float).std()) if len(values) > 1 else math.nan


def lower(a: Sample, b: Sample, rules: Rules, what: str = "test error (%)", digits: int = 2) -> Part:
    """Is `a` lower than `b`? One value per search a side."""
    label = f"{a.name} vs {b.name}"
    excluded = "; ".join(f"{s.name}: {s.excluded()}" for s in (a, b) if s.excluded())
    excluded = f" ({excluded})" if excluded else ""
    if not a.values or not b.values:
        why = [
            f"no result for {s.name}" if not s.searches else f"no search of {s.name} passed the gates"
            for s in (a, b)
            if not s.values
        ]
        return Part(label, "", None, f"{'; '.join(why)}{excluded}")
    numbers = (
        f"{_mean(a.values):.{digits}f} vs {_mean(b.values):.{digits}f} {what} "
        f"(n={len(a.values)} vs {len(b.values)} searches{excluded})"
    )
    spreads = (_std(a.values), _std(b.values))
    if min(len(a.values), len(b.values)) < MIN_SEARCHES:
        return Part(label, numbers, None, f"fewer than {MIN_SEARCHES} searches a side", spreads)
    test = welch(a.values, b.values, rules.confidence)
    if math.isnan(test.p_value):
        return Part(label, numbers, None, "no spread on either side to test against", spreads)
    return Part(label, numbers, test, spreads=spreads)


def below_zero(name: str, differences: list[float], rules: Rules, what: str = "test error difference (%)") -> Part:
    """Is the mean of per-search differences below zero?"""
    if not differences:
        return Part(name, "", None, "no search passed the gates")
    numbers = f"mean {what} {_mean(differences):+.2f} (n={len(differences)} searches)"
    spread = _std(differences)
    if len(differences) < MIN_SEARCHES:
        return Part(name, numbers, None, f"fewer than {MIN_SEARCHES} searches", (spread, 0.0))
    test = one_sample(differences, rules.confidence)
    if math.isnan(test.p_value):
        return Part(name, numbers, None, "no spread to test against", (spread, 0.0))
    return Part(name, numbers, test, spreads=(spread, 0.0))


def decide(parts: list[Part], rules: Rules) -> list[Decision]:
    """Each comparison's verdict after Holm's correction over those with a test."""
    alpha = 1 - rules.confidence
    adjusted = holm([part.test.p_value if part.test else math.nan for part in parts])
    tested = sum(part.test is not None for part in parts)
    decisions = []
    for part, p in zip(parts, adjusted):
        head = f"{part.label}: {part.numbers}" if part.numbers else part.label
        if part.test is None:
            decisions.append(Decision(CANNOT_TELL, f"{head}: cannot tell ({part.reason})"))
            continue
        t = part.test
        verdict = CANNOT_TELL if p >= alpha else SUPPORTED if t.difference < 0 else CONTRADICTED
        text = (
            f"{head}: difference {t.difference:+.2f}, {t.confidence:.0%} Welch interval [{t.low:+.2f}, {t.high:+.2f}], "
            f"p {t.p_value:.3g} (Holm over {tested}: {p:.3g}): {verdict}"
        )
        if verdict == CANNOT_TELL:
            needed = searches_needed(t.difference, *part.spreads, alpha / max(tested, 1), rules.power)
            text += (
                f"; about {needed} searches a side would decide a difference this size ({rules.power:.0%} power)"
                if needed
                else "; no number of searches would decide it at this spread"
            )
        decisions.append(Decision(verdict, text))
    return decisions


def combine(decisions: list[Decision]) -> str:
    """All supported: supported; any contradicted: contradicted; otherwise cannot tell."""
    verdicts = [d.verdict for d in decisions]
    if verdicts and all(v == SUPPORTED for v in verdicts):
        return SUPPORTED
    return CONTRADICTED if CONTRADICTED in verdicts else CANNOT_TELL


def _verdict(claim: str, artefact: str, parts: list[Part], rules: Rules, rule: str, notes=()) -> Verdict:
    decisions = decide(parts, rules)
    return Verdict(claim, artefact, combine(decisions), tuple(d.text for d in decisions) + tuple(notes), rule)


def _params(evaluations: pd.DataFrame, experiment: str) -> float | None:
    runs = final_runs(evaluations, experiment)
    return None if runs.empty else float(runs["params_m"].mean())


# --------------------------------------------------------------------------- the claims

# Table 1: the stretchable cell searched at 8 layers against the baselines searched at 8 layers.
TABLE1_SC, TABLE1_BASELINES = "milenas_sc_L8", ("darts_1st_L8", "darts_2nd_L8_L20", "milenas_L8")
CELL_DARTS, CELL_SC = ("darts_1st_L8", "darts_2nd_L8"), ("milenas_sc_L8",)
FIGURE4_SC = ("milenas_sc_L8", "milenas_sc_L12", "milenas_sc_L16", "milenas_sc_L20")
STABLE, UNSTABLE = "darts_wo_sc", "darts_2nd_L8"  # Table 4's two methods
OUTPUT_EDGES, INPUT_EDGES = "darts_wo_sc", "darts_wo_sc_input"  # Table 5's DARTS w/o SC row
# k = 1..4 outputs per node (k = 2: DARTS w/o SC's search, its cells trained at the budget as the others)
ARBITRARY, FIXED_K = "darts_sc_arbitrary", ("darts_sc_out1", "darts_sc_out2", "darts_sc_out3", "darts_sc_out4")


def beats_baselines(evaluations: pd.DataFrame, searches: pd.DataFrame | None, rules: Rules = Rules()) -> Verdict:
    sc = final_errors(evaluations, searches, TABLE1_SC)
    parts = []
    for baseline in TABLE1_BASELINES:
        part = lower(sc, final_errors(evaluations, searches, baseline), rules)
        sc_params, base_params = _params(evaluations, TABLE1_SC), _params(evaluations, baseline)
        # a win with more parameters is not a win "at similar parameters": only a loss can be told then
        if part.test and sc_params and base_params and abs(sc_params / base_params - 1) > PARAMS_TOLERANCE:
            if part.test.difference < 0:
                note = f"params differ ({sc_params:.3f}M vs {base_params:.3f}M), beyond {PARAMS_TOLERANCE:.0%}"
                part = Part(part.label, part.numbers, None, note, part.spreads)
        parts.append(part)
    rule = f"{rules.gates(TRAINED_CELL)}; {rules.comparison()}; each pair's params within {PARAMS_TOLERANCE:.0%}"
    return _verdict("Stretchable cells beat DARTS and MiLeNAS at similar parameters", "Table 1", parts, rules, rule)


def _cell_sample(cells: pd.DataFrame, searches, experiments, column: str) -> Sample:
    sample = Sample("+".join(experiments))
    for experiment in experiments:
        rows = cells[cells["experiment"] == experiment] if len(cells) else cells
        sample.searches += len(rows)
        seeds, failed = gated_searches(
            searches, experiment, list(rows["search_seed"]) if len(rows) else [], ("moved", "settled")
        )
        for gate, n in failed.items():
            sample.failed[gate] = sample.failed.get(gate, 0) + n
        sample.values += [float(v) for v in rows[rows["search_seed"].isin(seeds)][column]] if len(rows) else []
    return sample


def shallow_and_wide(cells: pd.DataFrame, searches: pd.DataFrame | None, rules: Rules = Rules()) -> Verdict:
    shallower = lower(
        _cell_sample(cells, searches, CELL_DARTS, "depth_normal"),
        _cell_sample(cells, searches, CELL_SC, "depth_normal"),
        rules,
        "normal-cell depth (ops)",
    )
    # wider: the SC cell's width is lower than DARTS's
    wider = lower(
        _cell_sample(cells, searches, CELL_SC, "width_normal"),
        _cell_sample(cells, searches, CELL_DARTS, "width_normal"),
        rules,
        "normal-cell width (edges from the cell inputs)",
    )
    rule = (
        f"{rules.gates(('moved', 'settled'))}; depth: longest path in ops from a cell input to the output; width: "
        "edges leaving the two cell inputs; one value per search (its final cell); "
        + rules.comparison("mean value over searches")
    )
    return _verdict(
        "At 8 layers, DARTS cells are shallower and wider than stretchable cells",
        "Figure 3 / Table 1 text",
        [shallower, wider],
        rules,
        rule,
    )


def best_at_own_layers(evaluations: pd.DataFrame, searches: pd.DataFrame | None, rules: Rules = Rules()) -> Verdict:
    parts = []
    for experiment in FIGURE4_SC:
        runs = evaluations[(evaluations["experiment"] == experiment) & (evaluations["genotype"] == "final")]
        if runs.empty:
            parts.append(Part(experiment, "", None, "no result"))
            continue
        if not runs["own_layers"].any():
            parts.append(Part(experiment, "", None, "not evaluated at its own layers"))
            continue
        own = int(runs[runs["own_layers"]]["layers"].iloc[0])
        at_own, own_err = _per_seed(evaluations, searches, experiment, None)
        for other in sorted(set(runs["layers"]) - {own}):
            at_other, _ = _per_seed(evaluations, searches, experiment, other)
            seeds = sorted(set(at_own) & set(at_other))  # paired by search: the same cell at two depths
            diffs = [at_own[s] - at_other[s] for s in seeds]
            part = below_zero(f"{experiment}: test error at L{own} minus at L{other}", diffs, rules)
            if own_err.excluded() and part.numbers:
                part = Part(part.label, f"{part.numbers} ({own_err.excluded()})", part.test, part.reason, part.spreads)
            elif own_err.excluded():
                part = Part(part.label, "", None, f"{part.reason}: {own_err.excluded()}")
            parts.append(part)
    rule = (
        f"{rules.gates(TRAINED_CELL)} at both depths; for each stretchable cell and each other evaluation depth, "
        "the per-search difference of test error (own depth minus other depth); "
        + rules.comparison("the mean per-search difference from 0 (one-sample t-test)")
    )
    return _verdict(
        "Each stretchable cell is best at its own search layer count", "Figures 1 and 4", parts, rules, rule
    )


def _per_seed(evaluations, searches, experiment: str, layers: int | None) -> tuple[dict, Sample]:
    """Search seed -> mean test error at `layers` over the gated trainings, and what the gates left out."""
    runs, sample = _gated_runs(evaluations, searches, experiment, TRAINED_CELL, layers)
    return ({} if runs.empty else per_search(runs).to_dict()), sample


def snapshot_spread(evaluations: pd.DataFrame, searches: pd.DataFrame | None, experiment: str) -> Sample:
    """Table 4's measure, per search that moved: the standard deviation over its snapshot cells (epoch_*) of
    each cell's mean test error over its trainings that learned; a search needs two such snapshots."""
    runs = evaluations[
        (evaluations["experiment"] == experiment)
        & evaluations["genotype"].astype(str).str.startswith("epoch_")
        & evaluations["own_layers"]
    ]
    sample = Sample(experiment, searches=runs["search_seed"].nunique() if len(runs) else 0)
    if runs.empty:
        return sample
    seeds, sample.failed = gated_searches(searches, experiment, sorted(runs["search_seed"].unique()), ("moved",))
    runs = _learned(runs)
    sample.failed["learned"] = 0
    for seed in seeds:
        cells = runs[runs["search_seed"] == seed].groupby("genotype")["test_error"].mean()
        if len(cells) < 2:
            sample.failed["learned"] += 1
            continue
        sample.values.append(float(cells.std()))
    return sample


def stability_changes(stability: pd.DataFrame, experiment: str) -> tuple[list[float], int]:
    """Per search: edges and ops changed (both cell types) per step between consecutive snapshots, averaged
    over the steps whose two cells are derivable; and how many steps were not. A step with no derivable cell
    is left out, never counted as no change (the tables stage leaves out the step from a last snapshot to a
    final cell of the same epoch, which cannot change)."""
    if stability.empty:
        return [], 0
    rows = stability[stability["experiment"] == experiment]
    return list(edits_per_derivable_step(rows)["edits"].astype(float)), int(rows["not_derivable"].sum())


def more_stable(
    evaluations: pd.DataFrame, stability: pd.DataFrame, searches: pd.DataFrame | None, rules: Rules = Rules()
) -> Verdict:
    part = lower(
        snapshot_spread(evaluations, searches, STABLE),
        snapshot_spread(evaluations, searches, UNSTABLE),
        rules,
        "std of test error (%) over a search's snapshot cells",
    )
    (stable, stable_gaps), (unstable, unstable_gaps) = (stability_changes(stability, e) for e in (STABLE, UNSTABLE))
    edits = (
        f"ours, not the paper's measure: cell edits per snapshot step, mean over searches: {STABLE} "
        + (f"{_mean(stable):.1f} (n={len(stable)})" if stable else "none")
        + f", {UNSTABLE} "
        + (f"{_mean(unstable):.1f} (n={len(unstable)})" if unstable else "none")
        + f"; steps without a derivable cell, left out: {STABLE} {stable_gaps}, {UNSTABLE} {unstable_gaps}"
    )
    rule = (
        f"{rules.gates(('moved', 'learned'))}; Table 4's measure: per search, the standard deviation of the test "
        "error of the cells derived at its snapshot epochs (each averaged over its trainings); "
        + rules.comparison("mean standard deviation over searches")
    )
    return _verdict(
        "Cells learned with explicit topology are more stable across search epochs than DARTS's",
        "Table 4",
        [part],
        rules,
        rule,
        notes=(edits,),
    )


def output_beats_input(evaluations: pd.DataFrame, searches: pd.DataFrame | None, rules: Rules = Rules()) -> Verdict:
    part = lower(
        final_errors(evaluations, searches, OUTPUT_EDGES), final_errors(evaluations, searches, INPUT_EDGES), rules
    )
    note = "the paper's own DARTS (2nd order) row has output edges worse (2.82 vs 2.76); its claim is on DARTS w/o SC"
    rule = f"{rules.gates(TRAINED_CELL)}; {rules.comparison()}"
    return _verdict("Selecting output edges beats selecting input edges", "Table 5", [part], rules, rule, notes=(note,))


def arbitrary_beats_fixed(evaluations: pd.DataFrame, searches: pd.DataFrame | None, rules: Rules = Rules()) -> Verdict:
    arbitrary = final_errors(evaluations, searches, ARBITRARY)
    parts = [lower(arbitrary, final_errors(evaluations, searches, fixed), rules) for fixed in FIXED_K]
    rule = f"{rules.gates(TRAINED_CELL)}; {rules.comparison()}"
    return _verdict("An arbitrary number of outputs per node beats every fixed number", "Figure 5", parts, rules, rule)


def no_invalid_node(searches: pd.DataFrame | None, experiments: pd.DataFrame, rules: Rules = Rules()) -> Verdict:
    """Claim 7 on the DARTS space's searches (NAS-Bench-201's have their own: report.nb201_claims)."""
    nb201 = experiments["tables"].fillna("").str.split(",").map(lambda tags: "nb201" in tags)
    return invalid_nodes(searches, experiments, rules, set(experiments[~nb201]["experiment"]), "DARTS-space searches")


def invalid_nodes(
    searches: pd.DataFrame | None, experiments: pd.DataFrame, rules: Rules, names: set[str], scope: str
) -> Verdict:
    """No search among `names` whose beta moved ends with a dropped node."""
    claim, artefact = "The passive-aggressive regulariser leaves no invalid node", f"Method (regulariser), {scope}"
    rule = (
        f"{rules.gates(('beta_moved',))}, on topology modes whose derivation can leave a node without input "
        "(output edges chosen by beta); every such search ends (its last epoch) with no dropped node; at least "
        f"{MIN_REGULARIZED_SEARCHES} searches; one dropped node contradicts"
    )
    candidates = experiments[experiments["experiment"].isin(names)]
    can_drop = set(candidates[candidates["topology_mode"].map(node_can_be_dropped)]["experiment"])
    if searches is None or searches.empty:
        return Verdict(claim, artefact, CANNOT_TELL, ("no search records",), rule)
    rows = searches[searches["experiment"].isin(can_drop)]
    if "searched_by" in rows:  # a retrain's row repeats its source search's: counted once
        rows = rows[rows["searched_by"] == rows["experiment"]]
    moved = rows[rows["beta_moved"].map(passes)] if len(rows) else rows
    lines = [f"{len(moved)} of {len(rows)} searches that could drop a node have a beta that moved"]
    if len(moved) < len(rows):
        lines[0] += ": the others' beta is still where it started, so the regulariser has not acted yet"
    dropped = moved[moved["dropped_nodes"] > 0]
    if len(dropped):
        names = ", ".join(f"{r.experiment} seed {r.search_seed}: {r.dropped_nodes}" for r in dropped.itertuples())
        lines.append(f"{len(dropped)} of them end with dropped nodes ({names})")
        return Verdict(claim, artefact, CONTRADICTED, tuple(lines), rule)
    if len(moved) < MIN_REGULARIZED_SEARCHES:
        lines.append(f"fewer than {MIN_REGULARIZED_SEARCHES} such searches: cannot tell")
        return Verdict(claim, artefact, CANNOT_TELL, tuple(lines), rule)
    lines.append("none of them ends with a dropped node")
    return Verdict(claim, artefact, SUPPORTED, tuple(lines), rule)


def node_can_be_dropped(topology_mode: str) -> bool:
    """Whether a mode's derivation can leave an intermediate node without input: beta chooses output edges."""
    from stretchnas.method.topology import mode_space  # torch: only this claim needs it

    space = mode_space(topology_mode)
    return space.has_beta and space.perspective == "output"


def check_claims(data: dict[str, pd.DataFrame]) -> list[Verdict]:
    """Every claim, in the paper's order, from the tables stage's data."""
    evaluations, searches = data["evaluations"], data.get("searches")
    rules = Rules.of(data.get("evidence"))
    return [
        beats_baselines(evaluations, searches, rules),
        shallow_and_wide(data["cells"], searches, rules),
        best_at_own_layers(evaluations, searches, rules),
        more_stable(evaluations, data["stability"], searches, rules),
        output_beats_input(evaluations, searches, rules),
        arbitrary_beats_fixed(evaluations, searches, rules),
        no_invalid_node(searches, data["experiments"], rules),
    ]

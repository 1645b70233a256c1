"""Choosing the NAS-Bench-201 proxy by rule, before any of its cells is looked up (docs/method.md §12).

A proxy is a search configuration small enough for a CPU (cells per stage, channels, batch, steps,
architecture learning rate, snapshots). The sweep runs each candidate on a few seeds of the methods
the spec names, records what the evidence gates see (entropy drop, whether the derived cell settled)
and what each search cost, and applies the rule: a candidate qualifies when at least `qualify_share`
of its searches moved and settled; the cheapest qualifying one (mean seconds per search) is chosen;
if none qualifies, the one with the largest share of such searches (then the cheapest) is named as the
closest, and said to be so. The sweep never reads a benchmark table: the choice cannot depend on the
accuracies it is meant to measure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stretchnas import StretchnasError
from stretchnas.report.claims import passes
from stretchnas.report.evidence import search_gates
from stretchnas.runs.checkpoint import dotted_keys
from stretchnas.runs.documents import read_document
from stretchnas.settings.params import Settings, load_yaml

ROW_COLUMNS = (
    "candidate",
    "experiment",
    "search_seed",
    "epochs",
    "steps",
    "seconds",
    "alpha_entropy_first",
    "alpha_entropy_last",
    "alpha_entropy_drop",
    "moved",
    "snapshot_steps",
    "steps_checked",
    "settled",
    "passed",
    "alpha_entropy_by_epoch",
)


class SweepSpecError(StretchnasError, ValueError):
    pass


@dataclass(frozen=True)
class Candidate:
    name: str
    note: str
    search: dict  # params.yaml `search` keys set on every swept experiment
    affordable: bool = True  # False: run to measure, never chosen (the whole mini DAG would exceed its budget)

    def describe(self) -> str:
        return ", ".join(f"{key}={_flat(value)}" for key, value in sorted(dotted_keys(self.search).items()))


@dataclass(frozen=True)
class SweepSpec:
    path: str
    scale: str
    experiments: tuple[str, ...]
    seeds: tuple[int, ...]
    qualify_share: float
    candidates: tuple[Candidate, ...]
    notes: tuple[str, ...] = ()  # how the sweep was run, printed with its report

    def only(self, names: list[str]) -> SweepSpec:
        unknown = sorted(set(names) - {c.name for c in self.candidates})
        if unknown:
            raise SweepSpecError(f"{self.path}: no candidate {unknown}; it has {[c.name for c in self.candidates]}")
        return dataclasses.replace(self, candidates=tuple(c for c in self.candidates if c.name in names))


def _flat(value) -> str:
    if isinstance(value, list) and len(value) > 4 and value == list(range(value[0], value[-1] + 1)):
        return f"[{value[0]}..{value[-1]}]"
    return str(value)


def _require(tree: dict, key: str, kind, path: str, where: str):
    if key not in tree:
        raise SweepSpecError(f"{path}: {where}{key}: missing")
    value = tree[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise SweepSpecError(f"{path}: {where}{key}: {value!r} is not {getattr(kind, '__name__', kind)}")
    return value


def read_spec(path: str | Path) -> SweepSpec:
    """The sweep's spec (YAML), refused clearly where a field is missing or of the wrong kind."""
    path = str(path)
    tree = read_document(path, load_yaml, SweepSpecError, "proxy sweep spec (YAML)")
    if not isinstance(tree, dict):
        raise SweepSpecError(f"{path}: not a mapping of the sweep's fields")
    experiments = _require(tree, "experiments", list, path, "")
    seeds = _require(tree, "seeds", list, path, "")
    share = _require(tree, "qualify_share", (int, float), path, "")
    if not 0 < share <= 1:
        raise SweepSpecError(f"{path}: qualify_share: {share} is not in (0, 1]")
    if not experiments or not all(isinstance(e, str) for e in experiments):
        raise SweepSpecError(f"{path}: experiments: a non-empty list of experiment names")
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise SweepSpecError(f"{path}: seeds: a non-empty list of non-negative integers")
    candidates = []
    for i, entry in enumerate(_require(tree, "candidates", list, path, "")):
        where = f"candidates[{i}]."
        if not isinstance(entry, dict):
            raise SweepSpecError(f"{path}: candidates[{i}]: not a mapping")
        name = _require(entry, "name", str, path, where)
        if any(c.name == name for c in candidates):
            raise SweepSpecError(f"{path}: {where}name: {name!r} is used twice")
        search = _require(entry, "search", dict, path, where)
        affordable = entry.get("affordable", True)
        if not isinstance(affordable, bool):
            raise SweepSpecError(f"{path}: {where}affordable: {affordable!r} is not true or false")
        candidates.append(Candidate(name, str(entry.get("note", "")), search, affordable))
    if not candidates:
        raise SweepSpecError(f"{path}: candidates: empty")
    return SweepSpec(
        path, str(tree.get("scale", "mini")), tuple(experiments), tuple(seeds), float(share), tuple(candidates)
    )


def candidate_settings(settings: Settings, spec: SweepSpec, candidate: Candidate) -> Settings:
    """The settings with the candidate's search keys set on each swept experiment (validated again)."""
    for name in spec.experiments:
        settings.experiment(name, procedures=("search",))  # an unknown name is refused with its close ones
    # the sweep's own seeds, whatever params.yaml's experiments list: a search records its settings whole
    search = {**candidate.search, "seeds": list(spec.seeds)}
    overlay = {"experiments": {name: {"search": search} for name in spec.experiments}}
    try:
        return settings.merged(overlay)
    except (ValueError, KeyError, TypeError) as exc:
        raise SweepSpecError(f"{spec.path}: candidate {candidate.name!r}: {exc}") from None


def search_row(candidate: str, experiment: str, seed: int, search_dir: Path, evidence, steps: int) -> dict:
    """What the gates see in one finished search, from its metrics.csv and snapshot index."""
    metrics = pd.read_csv(search_dir / "metrics.csv")
    dynamics = metrics.assign(experiment=experiment, search_seed=seed)
    gates = search_gates(dynamics, [(experiment, seed, search_dir)], evidence).iloc[0].to_dict()
    entropy_columns = [c for c in metrics.columns if c.startswith("alpha_entropy_")]
    by_epoch = metrics[entropy_columns].mean(axis=1)
    passed = passes(gates["moved"]) and passes(gates["settled"])  # an unknown gate (no record) does not pass
    return {
        "candidate": candidate,
        **{key: gates[key] for key in ROW_COLUMNS if key in gates and key not in ("experiment", "search_seed")},
        "experiment": experiment,
        "search_seed": seed,
        "steps": steps,
        "seconds": float(metrics["seconds"].sum()),
        "passed": passed,
        "alpha_entropy_by_epoch": " ".join(f"{value:.4f}" for value in by_epoch),
    }


def planned_steps(search, train_images: int) -> int:
    """Weight steps a search takes: epochs times its steps per epoch (one pass over D_tr, the last batch
    short, or fewer)."""
    per_epoch = -(-train_images // search.batch_size)
    if search.max_steps_per_epoch:
        per_epoch = min(per_epoch, search.max_steps_per_epoch)
    return search.epochs * per_epoch


def summarise(rows: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """One row per candidate, in the spec's order: shares of searches that moved, settled and passed both,
    mean seconds per search, whether it qualifies, and which candidate the rule chooses."""
    out = []
    for candidate in spec.candidates:
        mine = rows[rows["candidate"] == candidate.name]
        if mine.empty:
            continue
        out.append(
            {
                "candidate": candidate.name,
                "settings": candidate.describe(),
                "searches": len(mine),
                "moved_share": mine["moved"].map(passes).mean(),
                "settled_share": mine["settled"].map(passes).mean(),
                "passed_share": mine["passed"].map(passes).mean(),
                "mean_entropy_drop": mine["alpha_entropy_drop"].mean(),
                "seconds_per_search": mine["seconds"].mean(),
                "steps": int(mine["steps"].max()),
                "affordable": candidate.affordable,
            }
        )
    table = pd.DataFrame(out)
    if table.empty:
        return table
    table["qualifies"] = table["affordable"] & (table["passed_share"] >= spec.qualify_share - 1e-12)
    table["chosen"] = False
    chosen = choose(table)
    table.loc[table["candidate"] == chosen, "chosen"] = True
    return table


def choose(table: pd.DataFrame) -> str:
    """The cheapest qualifying candidate; else the closest affordable one (largest passed share, then the
    cheapest). A candidate the spec marks unaffordable is never chosen."""
    qualifying = table[table["qualifies"]]
    if not qualifying.empty:
        return str(qualifying.sort_values(["seconds_per_search", "candidate"]).iloc[0]["candidate"])
    affordable = table[table["affordable"]] if table["affordable"].any() else table
    ranked = affordable.assign(neg_share=-affordable["passed_share"])
    return str(ranked.sort_values(["neg_share", "seconds_per_search", "candidate"]).iloc[0]["candidate"])


def run_sweep(spec: SweepSpec, settings: Settings, data, out: str | Path, show_progress: bool = True) -> pd.DataFrame:
    """Every candidate x experiment x seed searched (or resumed: a finished search is read back), one row each."""
    from tqdm import tqdm

    from stretchnas.search.runner import run_search

    out = Path(out)
    jobs = [(c, e, s) for c in spec.candidates for e in spec.experiments for s in spec.seeds]
    rows = []
    for candidate, name, seed in tqdm(jobs, desc="proxy sweep", unit="search", disable=not show_progress):
        experiment = candidate_settings(settings, spec, candidate).experiment(name)
        search_dir = out / candidate.name / name / f"seed{seed}"
        run_search(experiment, data, search_dir, seed, show_progress=False)
        train_images = len(data.splits["schemes"][experiment.search.split_scheme]["train"])
        steps = planned_steps(experiment.search, train_images)
        rows.append(search_row(candidate.name, name, seed, search_dir, settings.evidence, steps))
    return pd.DataFrame(rows, columns=list(ROW_COLUMNS))


def report(rows: pd.DataFrame, table: pd.DataFrame, spec: SweepSpec) -> str:
    """The sweep as Markdown: the rule, each candidate's shares and cost, entropy by epoch, the choice."""
    lines = [
        "# NAS-Bench-201 proxy sweep",
        "",
        f"Written by `stretchnas proxy-sweep --spec {spec.path}`; the rule is docs/method.md §12. "
        f"Experiments {', '.join(spec.experiments)}, seeds {list(spec.seeds)}, scale {spec.scale}. "
        f"A candidate qualifies when at least {spec.qualify_share:.0%} of its searches moved (mean alpha entropy "
        "per edge down by the evidence gate's margin from the first epoch to the last) and settled (derived cell "
        "unchanged over the last quarter of snapshot steps) and is affordable (the spec marks a candidate whose "
        "searches would push the whole mini DAG past its budget: run to measure, never chosen); the cheapest "
        "qualifying candidate is chosen. No benchmark table was read.",
        "",
    ]
    if table.empty:
        return "\n".join(lines + ["No search finished."]) + "\n"
    shown = table.copy()
    for column in ("moved_share", "settled_share", "passed_share"):
        shown[column] = (100 * shown[column]).round(0).astype(int).astype(str) + "%"
    shown["mean_entropy_drop"] = shown["mean_entropy_drop"].map(lambda v: f"{v:.4f}")
    shown["seconds_per_search"] = shown["seconds_per_search"].map(lambda v: f"{v:.1f}")
    lines += [shown.to_markdown(index=False), ""]
    chosen = table[table["chosen"]].iloc[0]
    verdict = (
        "qualifies and is the cheapest that does"
        if chosen["qualifies"]
        else (
            "does NOT qualify: no candidate did; it is the closest (largest share of searches that moved and settled)"
        )
    )
    lines += [f"**Chosen: `{chosen['candidate']}`** ({chosen['settings']}): {verdict}.", ""]
    if spec.notes:
        lines += ["## How the sweep was run", "", *(f"- {note}" for note in spec.notes), ""]
    lines += ["## Mean alpha entropy per edge by epoch (nats; the uniform start is ln 5 = 1.6094)", ""]
    for (candidate, experiment), group in rows.groupby(["candidate", "experiment"], sort=False):
        per_seed = [list(map(float, text.split())) for text in group["alpha_entropy_by_epoch"]]
        width = min(len(values) for values in per_seed)
        mean = [sum(values[i] for values in per_seed) / len(per_seed) for i in range(width)]
        lines.append(f"- `{candidate}` {experiment}: " + " ".join(f"{v:.3f}" for v in mean))
    lines += ["", "## Every search", "", rows.drop(columns=["alpha_entropy_by_epoch"]).to_markdown(index=False), ""]
    return "\n".join(lines)

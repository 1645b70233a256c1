"""results/<scale>/README.md: what each artefact shows, then each claim of the paper with its verdict."""

from __future__ import annotations

import pandas as pd

from stretchnas.report.claims import Verdict

SCALE_NOTES = {
    "smoke": "a plumbing check: a few steps per search and training on a tiny subset. Its numbers say nothing "
    "about the methods: its verdicts exercise the pipeline, not the paper.",
    # The step counts are params.yaml's scales.mini (tests/test_report.py holds them to it).
    "mini": "a CPU-sized reproduction: 16x16 CIFAR-10 images (500 training and 100 test per class). In the DARTS "
    "space, 10-step searches and 16-step trainings of small networks: every artefact, the methods' costs and the "
    "cells they derive, with searches too short to move and accuracies too short-trained to rank methods, as its "
    "verdicts say. On NAS-Bench-201, "
    "1,200-step searches on a proxy chosen by rule before any cell was looked up (docs/method.md §12), five "
    "seeds per method, the cell of every second epoch scored by the benchmark's table: those claims are judged on "
    "ground truth.",
    "paper": "the paper's settings (50-epoch searches, 600-epoch trainings, about 3.4M-parameter networks).",
}

NB201_NOTE = (
    "Each searched cell, and the cell derived at each snapshot of each search, is scored by NAS-Bench-201's "
    "12-epoch table (the benchmark's training, not ours), so these claims need no training to pass a gate; "
    "they rest on the searches that moved and settled, with the proxy search settings docs/method.md §12 chose "
    "by rule (docs/proxy-sweep/README.md)."
)

# (file under results/<scale>/, what it shows, the claim it checks: an index into the claims, or a note)
ARTEFACTS = (
    ("tables/table1", "Table 1: test error, params, FLOPs and search cost of every method on CIFAR-10", 0),
    (
        "tables/table2",
        "Table 2: the 12-layer stretchable cell on ImageNet, and a search on an ImageNet subset",
        "none: shown beside the paper's values, no claim judged",
    ),
    (
        "tables/table3",
        "Table 3: DARTS (4 and 6 intermediate nodes) and MiLeNAS-SC at 8, 12, 16, 20 layers",
        "the paper's Table 3 comparison (read it against Figures 1/4)",
    ),
    ("tables/table4", "Table 4: test error of the cells derived at each snapshot epoch, per search", 3),
    ("tables/table5", "Table 5: input-edge against output-edge topology", 4),
    ("tables/figure4", "Figures 1 and 4 as numbers: each final cell at every evaluation depth", 2),
    ("tables/figure5", "Figure 5 as numbers: error and params per number of outputs per node", 5),
    ("tables/cells", "depth and width of every searched normal and reduce cell", 1),
    ("tables/stability", "edits between consecutive snapshot genotypes, per search, without training", 3),
    ("tables/costs", "search and training time, peak memory and throughput per experiment", "none: cost only"),
    ("figures/figure1", "Figure 1: test error against evaluation layers, every method in one panel", 2),
    ("figures/figure4", "Figure 4: the same, one panel per method", 2),
    ("figures/figure5", "Figure 5: test error against params per number of outputs per node", 5),
    (
        "figures/search_dynamics",
        "alpha/beta entropy, regulariser, dropped nodes, supernet accuracy, time per epoch (mean over searches)",
        6,
    ),
    ("figures/stability", "genotype edits across snapshots per search", 3),
    ("figures/cells/", "Figure 3: the normal and reduce cell of every searched genotype (Graphviz)", 1),
    (
        "tables/nb201",
        "NAS-Bench-201: each method's searched cells scored by the benchmark's table, on three data sets",
        "NB201 claims N1, N2",
    ),
    (
        "tables/nb201_stability",
        "NAS-Bench-201: how much the true accuracy of a search's late snapshot cells varies (Table 4 on ground truth)",
        "NB201 claim N3",
    ),
    (
        "figures/nb201",
        "NAS-Bench-201: ImageNet16-120 accuracy against search time per method",
        "NB201 claim N2 (cost)",
    ),
    (
        "figures/nb201_progress",
        "NAS-Bench-201: the true test accuracy of the cell each search would return, against search progress",
        "NB201 claims N1, N3",
    ),
    ("data/", "the numbers behind every table and figure (the tables stage's CSVs)", "all"),
)


def artefact_line(path: str, shows: str, checks, claims: list[Verdict]) -> str:
    if isinstance(checks, int):
        checks = f"claim {checks + 1}: {claims[checks].claim}"
    suffix = "" if path.endswith("/") else ".{md,csv,tex}" if path.startswith("tables/") else ".{png,svg}"
    return f"| `{path}{suffix}` | {shows} | {checks} |"


def _recorded(value) -> str:
    """A provenance value as text: whole numbers without the float pandas reads them as."""
    if pd.isna(value):
        return "not recorded"
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _commit(commit, changed) -> str:
    state = {True: "the package changed from it", False: "the package as committed"}
    return f"`{_recorded(commit)}`, {state.get(changed if isinstance(changed, bool) else None, 'changes not recorded')}"


def _machine(platform, cpu, cpus, threads, device) -> str:
    return (
        f"{_recorded(platform)}, {_recorded(cpu)}, {_recorded(cpus)} logical CPUs, {_recorded(threads)} "
        f"torch thread(s) per run, device {_recorded(device)}"
    )


def _data(name, sha) -> str:
    return f"{_recorded(name)} (sha256 {_recorded(sha)})"


PROVENANCE_FACETS = (
    ("Commit", ("git_commit", "package_changed"), _commit),
    ("Machine", ("platform", "cpu_model", "logical_cpus", "threads", "device"), _machine),
    ("Data copy", ("data_source", "data_source_sha256"), _data),
)


def provenance_section(runs: pd.DataFrame) -> list[str]:
    """Where the runs behind every number ran: each distinct commit, machine and data copy, with how many runs
    it accounts for (data/provenance.csv has each run's folder and command)."""
    kinds = ", ".join(f"{n} {kind}" for kind, n in runs["kind"].value_counts(sort=False).items())
    lines = [
        "## Provenance",
        "",
        f"The numbers above come from {len(runs)} runs ({kinds or 'none'}); "
        "`data/provenance.csv` lists each run's folder, command, commit, machine and data copy.",
        "",
    ]
    for label, columns, describe in PROVENANCE_FACETS:
        for values, n in runs.groupby(list(columns), dropna=False, sort=True).size().items():
            lines.append(f"- {label}: {describe(*values)}: {n} run{'' if n == 1 else 's'}")
    return lines + [""]


def claim_lines(number: str, verdict: Verdict) -> list[str]:
    lines = [f"### {number}. {verdict.claim} ({verdict.artefact}): **{verdict.verdict}**", ""]
    lines += [f"- {line}" for line in verdict.evidence]
    return lines + [f"- Rule: {verdict.rule}.", ""]


def _counts(claims: list[Verdict]) -> str:
    counts = {v: sum(c.verdict == v for c in claims) for v in ("supported", "contradicted", "cannot tell")}
    return ", ".join(f"{n} {verdict}" for verdict, n in counts.items()) + "."


def readme(
    scale: str,
    data_copy: str,
    claims: list[Verdict],
    cell_names: list[str],
    runs: pd.DataFrame | None = None,
    nb201_claims: list[Verdict] = (),
) -> str:
    lines = [
        f"# Results at scale `{scale}`",
        "",
        f"Generated by `stretchnas report` from `data/` (the tables stage's output) and the searched genotypes. "
        f"Scale `{scale}`: {SCALE_NOTES.get(scale, 'a scale defined in params.yaml.')}",
        "",
        f"Data: {data_copy}.",
        "",
        "Every number here is this scale's. The paper's printed values appear only in columns named `paper_*`. "
        "Test errors are mean ± std (n) over searches, each search averaged over its training seeds; the best "
        "search's spread over training seeds is a separate column, labelled with how it was picked.",
        "",
        "## Artefacts",
        "",
        "| file | what it shows | claim it checks |",
        "|---|---|---|",
        *(artefact_line(path, shows, checks, claims) for path, shows, checks in ARTEFACTS),
        "",
        f"Cell drawings (Figure 3): {', '.join(f'`figures/cells/{n}.svg`' for n in cell_names) or 'none'}.",
        "",
        "## The paper's claims at this scale",
        "",
    ]
    lines += [_counts(claims), ""]
    for number, verdict in enumerate(claims, 1):
        lines += claim_lines(str(number), verdict)
    if nb201_claims:
        lines += [
            "## NAS-Bench-201 claims at this scale, on ground truth",
            "",
            NB201_NOTE,
            "",
            _counts(nb201_claims),
            "",
        ]
        for number, verdict in enumerate(nb201_claims, 1):
            lines += claim_lines(f"N{number}", verdict)
    if runs is not None:
        lines += provenance_section(runs)
    return "\n".join(lines)

"""What a scale's jobs cost, from the records the workflow keeps beside their outputs.

Snakemake's `benchmark:` writes job.tsv into every search's, random baseline's and training's folder:
its wall seconds (`s`) and peak resident memory (`max_rss`, MB). A job that runs an experiment's seeds in
one process (workflow.seeds_in_one_job) keeps one record for all of them, in <experiment>/search_seeds/ (or
random_seeds/). Summed per experiment, they are the
measured cost of each experiment; summed over all, the compute the scale took (the wall-clock of a run
on several cores is shorter: the log of the run says how much).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stretchnas import StretchnasError

RECORD = "job.tsv"
# A record's folder names its job: <experiment>/seed<s>/ then search, random or <label>/L<n>/train_seed<t>;
# or <experiment>/search_seeds or random_seeds (one job for all the experiment's seeds)
SAMPLING_KINDS = ("search", "random")
SEEDS_TOGETHER = {f"{kind}_seeds": kind for kind in SAMPLING_KINDS}


class JobRecordError(StretchnasError, ValueError):
    pass


def read_records(runs: str | Path) -> pd.DataFrame:
    """One row per job record under `runs` (runs/<scale>): experiment, kind, folder, seconds, peak MB."""
    runs = Path(runs)
    rows = []
    together = [path for folder in SEEDS_TOGETHER for path in runs.glob(f"*/{folder}/{RECORD}")]
    for path in sorted([*runs.glob(f"*/seed*/**/{RECORD}"), *together]):
        parts = path.relative_to(runs).parts
        if "superseded" in parts:
            continue
        try:
            table = pd.read_csv(path, sep="\t")
            seconds, rss = float(table["s"].iloc[-1]), float(table["max_rss"].iloc[-1])
        except (OSError, ValueError, KeyError, IndexError, pd.errors.ParserError) as exc:
            raise JobRecordError(
                f"{path}: not a job record (a tab-separated table with `s` and `max_rss`): {exc}"
            ) from None
        if parts[1] in SEEDS_TOGETHER:
            kind = SEEDS_TOGETHER[parts[1]]
        else:
            kind = parts[2] if parts[2] in SAMPLING_KINDS else "training"
        rows.append(
            {
                "experiment": parts[0],
                "kind": kind,
                "folder": str(path.parent.relative_to(runs)),
                "seconds": seconds,
                "max_rss_mb": rss,
            }
        )
    if not rows:
        raise JobRecordError(f"{runs}: no {RECORD} found; run the workflow (Snakemake writes them) first")
    return pd.DataFrame(rows)


def costs(records: pd.DataFrame) -> pd.DataFrame:
    """Per experiment: jobs, search minutes (searches and random baselines' sampling), training minutes,
    total minutes and the largest peak memory; then a total row."""
    records = records.assign(searching=records["kind"] != "training")
    rows = []
    for experiment, jobs in records.groupby("experiment", sort=False):
        search = jobs.loc[jobs["searching"], "seconds"].sum()
        training = jobs.loc[~jobs["searching"], "seconds"].sum()
        rows.append(
            {
                "experiment": experiment,
                "jobs": len(jobs),
                "search_min": search / 60,
                "training_min": training / 60,
                "total_min": (search + training) / 60,
                "peak_rss_mb": jobs["max_rss_mb"].max(),
            }
        )
    table = pd.DataFrame(rows).sort_values("total_min", ascending=False, kind="stable")
    total = {
        "experiment": "all",
        "jobs": int(table["jobs"].sum()),
        "search_min": table["search_min"].sum(),
        "training_min": table["training_min"].sum(),
        "total_min": table["total_min"].sum(),
        "peak_rss_mb": table["peak_rss_mb"].max(),
    }
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True).round(1)

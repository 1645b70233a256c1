"""Run the benchmark suite and write benchmarks/README.md (figures and ratios, one run, this machine).

python benchmarks/run.py            # full size (C=16, batch 64, 8 cells): ~10 minutes on 2 cores
python benchmarks/run.py --tiny     # seconds; CI runs this to check the harness works
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (title, base configuration, variants compared against the first variant)
SUITES = [
    ("DARTS supernet: straightforward reference vs stretchnas", {},
     ["impl=reference", "impl=stretchnas,channels_last=0", "impl=stretchnas",
      "impl=stretchnas,recompute=alternate", "impl=stretchnas,recompute=cells"]),
    ("Topology variables: 6 intermediate nodes, same optimiser and batches", {"nodes": 6, "arch_split": "shared"},
     ["topology=darts", "topology=stretchable"]),
    ("EDAS vs full DARTS step", {}, ["optimizer=darts_1st", "optimizer=edas"]),
    ("Second vs first order", {}, ["optimizer=darts_1st", "optimizer=darts_2nd"]),
]  # fmt: skip


def stretchnas(*args) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "stretchnas.cli", "bench", *args], capture_output=True, text=True,
                         check=True, cwd=HERE.parent)  # fmt: skip
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiny", action="store_true", help="C=4, batch 8, 1 step: checks the harness only")
    parser.add_argument("--write", action="store_true", help="write benchmarks/README.md (full size only)")
    args = parser.parse_args()
    size = (
        ["--channels", "4", "--batch", "8", "--steps", "1", "--warmup", "1"]
        if args.tiny
        else ["--steps", "3", "--warmup", "1"]
    )
    peak = stretchnas("--peak")[0]
    print(json.dumps(peak))
    sections = []
    for title, base, variants in SUITES:
        base_args = size + [f"--{k.replace('_', '-')}={v}" for k, v in base.items()]
        results = stretchnas(*base_args, "--compare", *variants)
        for r in results:
            print(json.dumps(r))
        sections.append((title, base, results))
    if args.write and not args.tiny:
        write_readme(peak, sections)


def write_readme(peak: dict, sections) -> None:
    import torch

    lines = [
        "# Benchmarks",
        "",
        "Written by `python benchmarks/run.py --write` (also `stretchnas bench`). One search step =",
        "architecture step + weight step on random 32x32 data, CIFAR supernet, C=16, batch 64, 8 cells,",
        "4 intermediate nodes unless stated; median of 3 timed steps after 1 warm-up, each configuration",
        "in its own process (peak RSS from the OS, including about 1.1 GB for importing this torch build).",
        "Ratios are against the first row of each table, measured in the same run.",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), torch {torch.__version__},",
        f"{peak['threads']} threads; dense 3x3 convolution peak: {peak['gflops']} GFLOP/s.",
        "",
    ]
    for title, base, results in sections:
        lines += [f"## {title}", ""]
        if base:
            lines += ["Common settings: " + ", ".join(f"{k}={v}" for k, v in base.items()), ""]
        columns = ["variant", "s/step (median)", "min", "max", "images/s", "peak RSS (MiB)", "GFLOP/step",
                   "GFLOP/s", "time ratio", "memory ratio"]  # fmt: skip
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for r in results:
            lines.append(
                f"| {r['variant']} | {r['s_median']} | {r['s_min']} | {r['s_max']} | {r['images_per_s']} | "
                f"{r['peak_rss_mib']} | {r['gflop_per_step']} | {r['gflops_achieved']} | "
                f"{r.get('time_ratio', 1.0)} | {r.get('memory_ratio', 1.0)} |"
            )
        lines.append("")
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

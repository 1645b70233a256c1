"""`stretchnas bench`: seconds, images/s, peak memory and GFLOP/s of one search step.

One configuration per process, so the peak RSS the OS reports belongs to it alone;
`--compare` runs each configuration in its own subprocess, one after the other, and
prints ratios against the first. `--peak` measures the GFLOP/s this machine's
PyTorch reaches on a large dense convolution, the ceiling to read the others against.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from stretchnas.runstate import peak_rss_mib

REFERENCE_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "reference_darts.py"


def _reference_module():
    if not REFERENCE_FILE.exists():
        raise FileNotFoundError(f"{REFERENCE_FILE}: the reference implementation lives in the source checkout")
    spec = importlib.util.spec_from_file_location("reference_darts", REFERENCE_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _batch(batch: int, generator: torch.Generator):
    return torch.randn(batch, 3, 32, 32, generator=generator), torch.randint(0, 10, (batch,), generator=generator)


def build_step(cfg: dict, search_defaults: dict):
    """A zero-argument callable doing one search step on fixed random data, and its parameter count."""
    generator = torch.Generator().manual_seed(0)
    train, val, val_beta = (_batch(cfg["batch"], generator) for _ in range(3))
    if cfg["impl"] == "reference":
        if cfg["topology"] != "darts" or cfg["optimizer"] != "darts_1st" or cfg["space"] != "darts":
            raise ValueError("the reference implementation is DARTS first order on the DARTS space only")
        ref = _reference_module()
        net = ref.Network(C=cfg["channels"], layers=cfg["layers"], steps=cfg["nodes"])
        step = ref.FirstOrderStep(net)
        return (lambda: step(train, val)), sum(p.numel() for p in net.parameters())
    if cfg["space"] != "darts":
        raise ValueError(f"--space {cfg['space']}: only the DARTS space has a supernet so far")
    if cfg["simplify"]:
        raise ValueError("--simplify: the 2024 topological simplification is not implemented yet")
    from stretchnas.search.runner import build_network
    from stretchnas.search.strategies import StepBatches, build_strategy

    search = copy.deepcopy(search_defaults)
    search.update(channels=cfg["channels"], layers=cfg["layers"], intermediate_nodes=cfg["nodes"],
                  optimizer=cfg["optimizer"], topology={"mode": cfg["topology"]},
                  channels_last=bool(cfg["channels_last"]), recompute=cfg["recompute"],
                  arch_split=cfg["arch_split"])  # fmt: skip
    net = build_network(search)
    strategy = build_strategy(cfg["optimizer"], net, search)
    separate = net.topology.has_beta and cfg["arch_split"] == "separate"
    batches = StepBatches(train, val, val_beta if separate else None)
    return (lambda: strategy.step(batches)), sum(p.numel() for p in net.weight_parameters())


class _GlobalOnly:
    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def measure(cfg: dict, search_defaults: dict) -> dict:
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    step, num_params = build_step(cfg, search_defaults)
    for _ in range(cfg["warmup"]):
        step()
    times = []
    for _ in range(cfg["steps"]):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = peak_rss_mib()  # before the FLOP-counting step, which keeps extra references
    counter = FlopCounterMode(display=False)
    # Its per-module tracking installs backward hooks that torch.autograd.grad on leaf
    # parameters (our architecture step) rejects; only the global total is needed.
    counter.mod_tracker = _GlobalOnly()
    with counter:
        step()
    flops = counter.get_total_flops()
    median = statistics.median(times)
    return {
        **cfg,
        "s_median": round(median, 4),
        "s_min": round(min(times), 4),
        "s_max": round(max(times), 4),
        "images_per_s": round(cfg["batch"] / median, 2),
        "peak_rss_mib": round(peak, 1),
        "params": num_params,
        "gflop_per_step": round(flops / 1e9, 3),
        "gflops_achieved": round(flops / 1e9 / median, 2),
        "torch": torch.__version__,
    }


def peak_gflops(threads: int, repeats: int = 5) -> dict:
    """GFLOP/s of a large dense 3x3 convolution, forward only."""
    torch.set_num_threads(threads)
    x = torch.randn(32, 256, 32, 32)
    conv = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False)
    flops = 2 * 32 * 256 * 256 * 9 * 32 * 32
    with torch.no_grad():
        conv(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            conv(x)
            times.append(time.perf_counter() - start)
    return {
        "mode": "peak",
        "threads": threads,
        "gflops": round(flops / 1e9 / min(times), 2),
        "torch": torch.__version__,
    }


def compare(base_argv: list[str], variants: list[str]) -> list[dict]:
    """Run the base configuration changed by each variant ('key=value,...') in a fresh process."""
    results = []
    for variant in variants:
        argv = list(base_argv)
        for item in filter(None, variant.split(",")):
            key, value = item.split("=", 1)
            argv += [f"--{key.replace('_', '-')}", value]
        out = subprocess.run(
            [sys.executable, "-m", "stretchnas.cli", "bench", *argv], capture_output=True, text=True, check=True
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["variant"] = variant
        if results:
            first = results[0]
            result["time_ratio"] = round(result["s_median"] / first["s_median"], 3)
            result["memory_ratio"] = round(result["peak_rss_mib"] / first["peak_rss_mib"], 3)
        results.append(result)
        print(json.dumps(result), flush=True)
    return results

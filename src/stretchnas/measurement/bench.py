"""`stretchnas bench`: seconds, images/s, peak memory and GFLOP/s of one search step.

A `BenchConfig` is one configuration; its fields are the command's options and the
keys of `--compare`. `measure` times one configuration in this process; `compare`
runs several, each in a fresh process (so the peak RSS it reports is its own), one
after the other, with ratios against the first. `peak_gflops` measures the GFLOP/s
this machine's PyTorch reaches on a large dense convolution, the ceiling to read
the others against.

torch is imported only where a step is built or timed, so building the CLI's
parser stays cheap.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import multiprocessing
import os
import statistics
import sys
import time
import typing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Literal

from stretchnas import StretchnasError
from stretchnas.runs.device import check_device_spec
from stretchnas.runs.processes import peak_rss_mib
from stretchnas.settings.types import SearchSettings, Topology


class BenchError(StretchnasError, ValueError):
    """A benchmark configuration that is malformed or not implemented."""


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _option(default, help: str, *, minimum=None, even=False, flag=False, default_text=None):
    """A BenchConfig field, with what its option needs.

    `default` may be a zero-argument callable (then say what it computes in `default_text`);
    `flag`: a bool given as a bare --option; `minimum`, `even`: what an int must be.
    """
    metadata = {"help": help, "minimum": minimum, "even": even, "flag": flag, "default_text": default_text}
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class BenchConfig:
    """One benchmarked search step. Each field is a `stretchnas bench` option and a `--compare` key."""

    impl: Literal["stretchnas", "reference"] = _option(
        "stretchnas", "our supernet, or the straightforward one of stretchnas.measurement.reference_darts"
    )
    space: Literal["darts", "nb201"] = _option("darts", "operation space")
    topology: str = _option("darts", "topology mode, as search.topology.mode")
    optimizer: str = _option("darts_1st", "search optimiser, as search.optimizer")
    hessian: Literal["finite_difference", "exact"] = _option(
        "finite_difference", "darts_2nd's Hessian-vector product, as search.hessian"
    )
    simplify: bool = _option(False, "TopoNAS 2024 simplification (search.simplify)", flag=True)
    channels: int = _option(16, "initial channels C", minimum=2, even=True)
    layers: int = _option(8, "cells (DARTS space)", minimum=3)
    cells_per_stage: int = _option(5, "NB201 space: search cells per stage (NB201's N)", minimum=1)
    nodes: int = _option(4, "intermediate nodes per cell", minimum=2)
    batch: int = _option(64, "images per batch", minimum=1)
    image_size: int = _option(32, "side of the random square images, in pixels (mini prepares 16x16)", minimum=8)
    threads: int = _option(_cpus, "torch threads", minimum=1, default_text="the CPUs this process may use")
    steps: int = _option(5, "timed steps", minimum=1)
    warmup: int = _option(2, "untimed steps before them", minimum=0)
    channels_last: bool = _option(True, "NHWC memory layout, 0 or 1 (stretchnas only)")
    recompute: Literal["none", "alternate", "cells"] = _option(
        "none", "keep only cell inputs and recompute activations in backward"
    )
    beta_data: Literal["separate", "shared"] = _option(
        "separate", "beta on its own batch (a second architecture pass) or on alpha's"
    )
    device: str = _option("cpu", "auto, cpu, cuda or cuda:N")
    profile: bool = _option(False, "also count the step's kernel calls and profile where its time goes, 0 or 1")
    forward_input_grad: bool = _option(
        True, "dilated depthwise input gradients as forward convolutions (stretchnas.kernels.depthwise), 0 or 1"
    )
    members: int = _option(1, "searches one step advances, each with its own weights, alpha and batches", minimum=1)
    members_form: Literal["sequential", "vmap"] = _option(
        "sequential",
        "several members: each its own step in turn (what `stretchnas batch` does), or one step whose kernel "
        "calls serve all (torch.func vmap; stretchnas.measurement.seed_batching)",
    )

    def __post_init__(self):
        for f in dataclasses.fields(self):
            try:
                _validate(f, getattr(self, f.name))
            except ValueError as exc:
                raise BenchError(f"{f.name}: {exc}") from None


@functools.cache
def _types() -> dict[str, Any]:
    return typing.get_type_hints(BenchConfig)


def _validate(f: dataclasses.Field, value) -> None:
    """ValueError saying what field `f` allows, unless `value` is allowed."""
    kind = _types()[f.name]
    if typing.get_origin(kind) is Literal:
        if value not in typing.get_args(kind):
            raise ValueError(f"{value!r} is not one of {', '.join(typing.get_args(kind))}")
    elif kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not 0 or 1")
    elif kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{value!r} is not an integer")
        if f.metadata["minimum"] is not None and value < f.metadata["minimum"]:
            raise ValueError(f"{value} is less than {f.metadata['minimum']}")
        if f.metadata["even"] and value % 2:
            raise ValueError(f"{value} is odd (reduction cells halve it)")
    elif not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    elif f.name == "device":
        check_device_spec(value)


def _parse(f: dataclasses.Field, text: str):
    """The value of field `f` written as `text` on the command line; ValueError if it is not allowed."""
    kind, value = _types()[f.name], text
    if kind is bool:
        value = {"0": False, "1": True, "false": False, "true": True}.get(text.lower(), text)
    elif kind is int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an integer") from None
    _validate(f, value)
    return value


# --------------------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `stretchnas bench`: one per BenchConfig field, then --params, --peak, --compare."""
    defaults = BenchConfig()
    for f in dataclasses.fields(BenchConfig):
        option, text = "--" + f.name.replace("_", "-"), f.metadata["help"]
        if f.metadata["flag"]:
            # SUPPRESS: an option not given leaves no attribute, so the dataclass holds every default.
            parser.add_argument(option, action="store_true", default=argparse.SUPPRESS, help=text)
            continue
        kind, default = _types()[f.name], getattr(defaults, f.name)
        if typing.get_origin(kind) is Literal:
            metavar = "{" + ",".join(typing.get_args(kind)) + "}"
        else:
            metavar = {bool: "{0,1}", int: "N"}.get(kind, f.name.upper())
        default_text = int(default) if kind is bool else default
        if f.metadata["default_text"]:  # computed when the config is made
            default_text = f"{f.metadata['default_text']}, {default_text} here"
        parser.add_argument(
            option,
            type=_argparse_type(f),
            default=argparse.SUPPRESS,
            metavar=metavar,
            help=f"{text} (default: {default_text})",
        )
    parser.add_argument(
        "--params",
        default="params.yaml",
        help="the optimiser constants are this file's paper scale (default: params.yaml)",
    )
    parser.add_argument("--peak", action="store_true", help="measure dense-convolution GFLOP/s instead")
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="KEY=VALUE,...",
        help="variants of this configuration (keys: the options above, with _ for -), "
        "each in its own process, with ratios against the first",
    )


def _argparse_type(f: dataclasses.Field) -> Callable[[str], Any]:
    def parse(text: str):
        try:
            return _parse(f, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = f.name  # argparse names the type in some messages
    return parse


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """The BenchConfig of parsed `stretchnas bench` options (the dataclass defaults where one is not given)."""
    return BenchConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(BenchConfig) if f.name in args})


def run(args: argparse.Namespace) -> int:
    """`stretchnas bench`: print one JSON line per measured configuration (or the --peak figure)."""
    cfg = config_from_args(args)
    if args.peak:
        _print(peak_gflops(cfg.threads))
        return 0
    search = load_search_defaults(args.params)
    if args.compare:
        compare(cfg, args.compare, search, on_result=_print)
    else:
        _print(measure(cfg, search))
    return 0


def _print(result: dict) -> None:
    print(json.dumps(result), flush=True)


def load_search_defaults(params: str | os.PathLike = "params.yaml") -> SearchSettings:
    """The search settings a benchmark starts from: the paper scale of `params`, no environment overrides."""
    from stretchnas.settings.params import load_settings

    return load_settings(params, "paper", environ={}).search


# --------------------------------------------------------------------------- variants


def vary(base: BenchConfig, variant: str) -> BenchConfig:
    """`base` changed by `variant`, 'key=value,...' with BenchConfig field names as keys."""
    fields = {f.name: f for f in dataclasses.fields(BenchConfig)}
    changes = {}
    for item in filter(None, (part.strip() for part in variant.split(","))):
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise BenchError(f"--compare {variant!r}: {item!r} is not KEY=VALUE")
        if key not in fields:
            raise BenchError(f"--compare {variant!r}: unknown key {key!r}; the keys are {', '.join(fields)}")
        try:
            changes[key] = _parse(fields[key], text.strip())
        except ValueError as exc:
            raise BenchError(f"--compare {variant!r}: {key}: {exc}") from None
    return dataclasses.replace(base, **changes)


def check_implemented(cfg: BenchConfig) -> None:
    """BenchError if `cfg` asks for something this harness cannot build."""
    if cfg.topology == "output_k":
        raise BenchError("--topology output_k: not implemented in bench, which has no option for its topology.k")
    if cfg.members > 1 and cfg.impl == "reference":
        raise BenchError("--members with --impl reference: not implemented; several members run stretchnas's supernet")
    if cfg.members > 1 and cfg.members_form == "vmap":
        vmap = {"optimizer": "darts_1st", "topology": "darts", "recompute": "none", "channels_last": False,
                "simplify": False, "device": "cpu"}  # fmt: skip
        other = [f"{key}={getattr(cfg, key)}" for key, value in vmap.items() if getattr(cfg, key) != value]
        if other:
            raise BenchError(
                f"--members-form vmap with {', '.join(other)}: not implemented; the vmap form measures DARTS first "
                "order, no topology variables or recomputation, channels_last=0, on the CPU"
            )
    if cfg.impl == "reference":
        darts = {
            "topology": "darts",
            "optimizer": "darts_1st",
            "recompute": "none",
            "simplify": False,
            "hessian": "finite_difference",
        }
        other = [f"{key}={getattr(cfg, key)}" for key, value in darts.items() if getattr(cfg, key) != value]
        if other:
            raise BenchError(
                f"--impl reference with {', '.join(other)}: not implemented; "
                "the reference is DARTS first order without recomputation"
            )


def compare(
    base: BenchConfig,
    variants: Sequence[str],
    search_defaults: SearchSettings,
    on_result: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Measure `base` changed by each variant ('key=value,...'), each in a fresh process, one after the other.

    Every variant is parsed and checked (what needs no torch) before the first runs. Each result carries
    its `variant`, and all but the first `time_ratio` and `memory_ratio` against the
    first; `on_result` receives each as soon as it is measured. The processes are
    spawned, so they import the caller's `__main__`: a script must guard its work
    with `if __name__ == "__main__":`.
    """
    configs = [(variant, vary(base, variant)) for variant in variants]
    for _, cfg in configs:
        check_implemented(cfg)
    results = []
    # spawn, one task per process: a new interpreter for every variant, so nothing of
    # one (memory, threads, caches) carries into the next.
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1)
    with pool:
        for variant, cfg in configs:
            try:
                result = pool.submit(measure, cfg, search_defaults).result()
            except BrokenProcessPool as exc:
                raise BenchError(f"--compare {variant!r}: the process measuring it ended abruptly ({exc})") from None
            result["variant"] = variant
            if results:
                first = results[0]
                result["time_ratio"] = round(result["s_median"] / first["s_median"], 3)
                result["memory_ratio"] = round(result["peak_rss_mib"] / first["peak_rss_mib"], 3)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


def concurrent(cfg: BenchConfig, jobs: int, search_defaults: SearchSettings) -> list[dict]:
    """`jobs` copies of `cfg` measured at once, each in its own fresh process: what parallel workflow jobs get."""
    check_implemented(cfg)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1)
    with pool:
        futures = [pool.submit(measure, cfg, search_defaults) for _ in range(jobs)]
        try:
            return [future.result() for future in futures]
        except BrokenProcessPool as exc:
            raise BenchError(f"{jobs} concurrent copies: a process measuring one ended abruptly ({exc})") from None


# --------------------------------------------------------------------------- measuring


def _batch(batch: int, side: int, generator):
    import torch

    images = torch.randn(batch, 3, side, side, generator=generator)
    return images, torch.randint(0, 10, (batch,), generator=generator)


def build_step(cfg: BenchConfig, search_defaults: SearchSettings):
    """A zero-argument callable doing one search step on fixed random data, and its parameter count."""
    import torch

    from stretchnas.runs.device import resolve_device, to_device

    check_implemented(cfg)
    device = resolve_device(cfg.device)
    generator = torch.Generator().manual_seed(0)
    train, val, val_beta = (to_device(_batch(cfg.batch, cfg.image_size, generator), device) for _ in range(3))
    if cfg.impl == "reference" and cfg.space == "nb201":
        from stretchnas.measurement import reference_nb201

        net = reference_nb201.Network(C=cfg.channels, N=cfg.cells_per_stage).to(device)
        step = reference_nb201.FirstOrderStep(net)
        return (lambda: step(train, val)), sum(p.numel() for p in net.parameters())
    if cfg.impl == "reference":
        from stretchnas.measurement import reference_darts

        net = reference_darts.Network(C=cfg.channels, layers=cfg.layers, steps=cfg.nodes).to(device)
        step = reference_darts.FirstOrderStep(net)
        return (lambda: step(train, val)), sum(p.numel() for p in net.parameters())
    from stretchnas.method.networks import build_search_network
    from stretchnas.method.topology import TOPOLOGY_MODES
    from stretchnas.search.optimizers import SEARCH_OPTIMIZERS, StepBatches, build_search_optimizer

    if cfg.topology not in TOPOLOGY_MODES:
        raise BenchError(f"--topology {cfg.topology}: unknown; the modes are {', '.join(TOPOLOGY_MODES)}")
    if cfg.optimizer not in SEARCH_OPTIMIZERS:
        raise BenchError(f"--optimizer {cfg.optimizer}: unknown; the optimisers are {', '.join(SEARCH_OPTIMIZERS)}")
    search = search_defaults.replace(
        channels=cfg.channels,
        layers=cfg.layers,
        intermediate_nodes=cfg.nodes,
        optimizer=cfg.optimizer,
        topology=Topology(mode=cfg.topology),
        channels_last=cfg.channels_last,
        recompute=cfg.recompute,
        beta_data=cfg.beta_data,
        op_space=cfg.space,
        cells_per_stage=cfg.cells_per_stage,
        simplify=cfg.simplify,
        hessian=cfg.hessian,
    )
    if cfg.members > 1:
        return _members_step(cfg, search, device, generator)
    net = build_search_network(search).to(device)
    optimizer = build_search_optimizer(cfg.optimizer, net, search)
    separate = net.topology.has_beta and cfg.beta_data == "separate"
    batches = StepBatches(train, val, val_beta if separate else None)
    return (lambda: optimizer.step(batches)), sum(p.numel() for p in net.weight_parameters())


def _members_step(cfg: BenchConfig, search: SearchSettings, device, generator):
    """One step of `cfg.members` searches (own initial weights, alpha and batches) in the chosen form, and the
    parameter count of one."""
    import torch

    from stretchnas.measurement.seed_batching import StackedFirstOrder
    from stretchnas.method.networks import build_search_network
    from stretchnas.runs.device import to_device
    from stretchnas.search.optimizers import StepBatches, build_search_optimizer

    nets, batches = [], []
    for member in range(cfg.members):
        torch.manual_seed(member)
        nets.append(build_search_network(search).to(device))
        train, val, val_beta = (to_device(_batch(cfg.batch, cfg.image_size, generator), device) for _ in range(3))
        separate = nets[-1].topology.has_beta and cfg.beta_data == "separate"
        batches.append(StepBatches(train, val, val_beta if separate else None))
    params = sum(p.numel() for p in nets[0].weight_parameters())
    if cfg.members_form == "vmap":
        stacked = StackedFirstOrder(nets, search)
        train = tuple(torch.stack([b.train[k] for b in batches]) for k in range(2))
        val = tuple(torch.stack([b.val_alpha[k] for b in batches]) for k in range(2))
        return (lambda: stacked.step(train, val)), params
    optimizers = [build_search_optimizer(cfg.optimizer, net, search) for net in nets]

    def in_turn():
        for optimizer, member_batches in zip(optimizers, batches):
            optimizer.step(member_batches)

    return in_turn, params


class _GlobalOnly:
    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def step_times(step: Callable[[], object], repeats: int, device) -> list[float]:
    """Seconds of each of `repeats` calls of `step`; on CUDA, until the device is done."""
    import torch

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        if device.type == "cuda":  # kernels run asynchronously: the step ends when the device is done
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def measure(cfg: BenchConfig, search_defaults: SearchSettings) -> dict:
    """Time `cfg`'s search step in this process: the config's fields, then the figures (see `compare`)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from stretchnas.kernels import depthwise
    from stretchnas.measurement import step_profile
    from stretchnas.runs.device import describe_device, resolve_device

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(0)
    if not cfg.forward_input_grad:  # this process only: each configuration runs in its own
        depthwise.MIN_ELEMENTS = sys.maxsize
    device = resolve_device(cfg.device)
    on_gpu = device.type == "cuda"
    step, num_params = build_step(cfg, search_defaults)
    # torch, the model and the batches: at small sizes most of the peak, the same for every step
    baseline = peak_rss_mib()
    for _ in range(cfg.warmup):
        step()
    if on_gpu:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    times = step_times(step, cfg.steps, device)
    peak = peak_rss_mib()  # before the FLOP-counting step, which keeps extra references
    gpu_peak = torch.cuda.max_memory_allocated(device) / 2**20 if on_gpu else None
    counter = FlopCounterMode(display=False)
    # Its per-module tracking installs backward hooks that torch.autograd.grad on leaf
    # parameters (our architecture step) rejects; only the global total is needed.
    counter.mod_tracker = _GlobalOnly()
    with counter:
        step()
    flops = counter.get_total_flops()
    kernels = step_profile.count_kernels(step) if cfg.profile else None
    shares = step_profile.time_shares(step) if cfg.profile and not on_gpu else None  # GPU kernels run asynchronously
    median = statistics.median(times)
    return {
        **dataclasses.asdict(cfg),
        "s_median": round(median, 4),
        "s_min": round(min(times), 4),
        "s_max": round(max(times), 4),
        "images_per_s": round(cfg.batch * cfg.members / median, 2),
        "peak_rss_mib": round(peak, 1),
        "baseline_rss_mib": round(baseline, 1),
        "peak_gpu_mib": round(gpu_peak, 1) if gpu_peak is not None else None,
        **describe_device(device),
        "params": num_params,
        "gflop_per_step": round(flops / 1e9, 3),
        "gflops_achieved": round(flops / 1e9 / median, 2),
        "kernel_calls": kernels,
        "time_shares": shares,
        "torch": torch.__version__,
        "pid": os.getpid(),
    }


def peak_gflops(threads: int, repeats: int = 5) -> dict:
    """GFLOP/s of a large dense 3x3 convolution, forward only."""
    import torch

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

"""The `stretchnas` command: a thin layer of subcommands over the library."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stretchnas import __version__
from stretchnas.config import ConfigError, load_settings

COMMANDS = {}


def command(name: str, help: str, arguments=None):
    def register(func):
        COMMANDS[name] = (func, help, arguments)
        return func

    return register


def _add_settings_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default="params.yaml", help="the configuration file (default: params.yaml)")
    parser.add_argument("--scale", choices=["smoke", "mini", "paper"], help="overrides the file's `scale` key")


def _add_run_args(parser: argparse.ArgumentParser, seed_default: str) -> None:
    """What every resumable run takes: where to write, which seed and data, whether to show progress."""
    parser.add_argument("--out", required=True, help="output folder (re-running the command resumes)")
    parser.add_argument("--seed", type=int, help=f"default: {seed_default}")
    parser.add_argument("--data", help="prepared data folder (default: data/prepared/<scale>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _open_data(args, settings):
    from stretchnas.data.cache import PreparedData

    return PreparedData.open(args.data or f"data/prepared/{settings['scale']}")


# --------------------------------------------------------------------------- prepare-data


def _prepare_data_args(parser):
    _add_settings_args(parser)
    parser.add_argument(
        "--source",
        help="'download', a CIFAR archive/folder, or an ImageFolder tree/tar "
        "(default: $STRETCHNAS_CIFAR10 or params.yaml data.source)",
    )
    parser.add_argument("--out", required=True, help="folder to write the prepared data into")
    parser.add_argument("--dataset", choices=["cifar10", "cifar100", "imagefolder"])
    parser.add_argument("--no-verify-checksums", action="store_true", help="accept a source whose MD5 differs")


@command(
    "prepare-data",
    "read a data source and write the memory-mapped cache, splits.json and manifest.json",
    arguments=_prepare_data_args,
)
def prepare_data_cmd(args) -> int:
    from stretchnas.data.prepare import prepare_data

    settings = load_settings(args.params, args.scale)
    data = settings["data"]
    dataset = args.dataset or data["dataset"]
    source, origin = (args.source, "command line --source") if args.source else (data["source"], data["source_origin"])
    manifest = prepare_data(
        source=source,
        out_dir=args.out,
        dataset=dataset,
        splits=data["splits"],
        seed=data["seed"],
        train_per_class=data["train_per_class"],
        test_per_class=data["test_per_class"],
        verify_checksums=data["verify_checksums"] and not args.no_verify_checksums,
        source_origin=origin,
    )
    summary = {
        "out": str(Path(args.out)),
        "train": manifest["counts"]["train"],
        "test": manifest["counts"]["test"],
        "mean": manifest["mean"],
        "std": manifest["std"],
        "checksums_verified": manifest["checksums_verified"],
    }
    print(json.dumps(summary))
    return 0


# --------------------------------------------------------------------------- measure


def _measure_args(parser):
    parser.add_argument("--genotype", required=True, help="a published name (e.g. DARTS_V2) or a genotype .json")
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--channels", type=int, default=36)
    parser.add_argument("--imagenet", action="store_true", help="the ImageNet network (224x224 input, 1000 classes)")


@command("measure", "params (M), FLOPs (M multiply-adds), depth and width of a genotype's network", _measure_args)
def measure_cmd(args) -> int:
    from stretchnas.measure import measure
    from stretchnas.published import get_genotype

    result = measure(get_genotype(args.genotype), args.layers, args.channels, imagenet=args.imagenet)
    print(json.dumps({"genotype": args.genotype, **result}))
    return 0


# --------------------------------------------------------------------------- published-table


def _published_table_args(parser):
    parser.add_argument("--out", required=True, help="CSV to write")
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--channels", type=int, default=36)


@command("published-table", "params/FLOPs of the published cells beside the paper's Table 1", _published_table_args)
def published_table_cmd(args) -> int:
    from stretchnas.tables import published_cells_table, write_csv

    table = published_cells_table(args.layers, args.channels)
    write_csv(table, args.out)
    print(table.to_string(index=False))
    return 0


# --------------------------------------------------------------------------- experiments / search


@command("experiments", "print every experiment of params.yaml with its kind and resolved settings", _add_settings_args)
def experiments_cmd(args) -> int:
    from stretchnas.config import all_experiments, experiment_search

    settings = load_settings(args.params, args.scale)
    registry = {}
    for name, experiment in all_experiments(settings).items():
        registry[name] = {
            "kind": "train" if experiment["kind"] != "search" else "search",
            "method": experiment["kind"],
            "tables": experiment.get("tables", []),
            "search": experiment_search(settings, name),
            **{k: v for k, v in experiment.items() if k not in ("kind", "tables", "search")},
        }
    print(json.dumps({"scale": settings["scale"], "experiments": registry}, indent=2))
    return 0


def _search_args(parser):
    _add_settings_args(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--exp", help="an experiment of params.yaml (see `stretchnas experiments`)")
    which.add_argument("--config", help="a YAML file with a `search:` block merged over params.yaml's defaults")
    _add_run_args(parser, "the experiment's first seed")


@command("search", "run (or resume) one supernet search", _search_args)
def search_cmd(args) -> int:
    from stretchnas.config import ConfigError, experiment_search, read_params, resolve_scale
    from stretchnas.search.runner import SearchRun

    settings = load_settings(args.params, args.scale)
    if args.exp:
        if args.exp not in settings["experiments"]:
            raise ConfigError(
                f"{args.params}: experiments: no experiment {args.exp!r}; known: {sorted(settings['experiments'])}"
            )
        if settings["experiments"][args.exp]["kind"] != "search":
            raise ConfigError(
                f"{args.params}: experiments.{args.exp}: kind is not 'search'; use `stretchnas random-search`"
            )
        name, search = args.exp, experiment_search(settings, args.exp)
    else:
        extra = read_params(args.config)
        raw = read_params(args.params)
        # the file's search is the only experiment; overlays keep their scale defaults only
        raw["experiments"] = {"from_file": {"kind": "search", "search": extra.get("search") or {}}}
        raw["followups"] = {}
        for overlay in (raw.get("scales") or {}).values():
            for section in ("experiments", "followups"):
                (overlay or {}).pop(section, None)
        resolved = resolve_scale(raw, settings["scale"], origin=f"{args.params} + {args.config}")
        name, search = Path(args.config).stem, experiment_search(resolved, "from_file")
    data = _open_data(args, settings)
    seed = args.seed if args.seed is not None else search["seeds"][0]
    genotype = SearchRun(name, search, data, args.out, seed).run(show_progress=not args.quiet)
    print(json.dumps({"out": args.out, "genotype": genotype.to_dict()}))
    return 0


# --------------------------------------------------------------------------- random baselines


def _random_args(parser):
    _add_settings_args(parser)
    parser.add_argument("--exp", required=True, help="a random_search or random_ops experiment of params.yaml")
    parser.add_argument("--topology-from", help="random_ops: the genotype.json whose topology is kept")
    _add_run_args(parser, "the experiment's first seed")


@command("random-search", "random baseline: sample genotypes, short-train each, keep the best on D_val", _random_args)
def random_search_cmd(args) -> int:
    from stretchnas.config import all_experiments, experiment_search
    from stretchnas.genotype import Genotype
    from stretchnas.random_baselines import run_random_baseline

    settings = load_settings(args.params, args.scale)
    experiment = all_experiments(settings).get(args.exp)
    if experiment is None or experiment["kind"] not in ("random_search", "random_ops"):
        raise ConfigError(f"{args.params}: experiments.{args.exp}: not a random_search or random_ops experiment")
    topology = None
    if experiment["kind"] == "random_ops":
        if not args.topology_from:
            raise ConfigError(f"experiments.{args.exp} keeps a searched topology: pass --topology-from genotype.json")
        topology = Genotype.load(args.topology_from)
    search = experiment_search(settings, args.exp)
    data = _open_data(args, settings)
    seed = args.seed if args.seed is not None else search["seeds"][0]
    chosen = run_random_baseline(
        args.exp, experiment["kind"], search, experiment["random"], settings["train"], data, args.out, seed,
        topology=topology, show_progress=not args.quiet,
    )  # fmt: skip
    print(json.dumps({"out": args.out, "genotype": chosen.to_dict()}))
    return 0


# --------------------------------------------------------------------------- experiment (workflow unit)


def _experiment_args(parser):
    _add_settings_args(parser)
    parser.add_argument("--exp", required=True, help="an experiment or followup of params.yaml")
    parser.add_argument("--out", required=True, help="working folder (searches, trainings, checkpoints)")
    parser.add_argument("--summary", required=True, help="JSON listing every result, written last")
    parser.add_argument("--after", help="followups: the summary JSON of the experiment named by topology_from")
    parser.add_argument("--data", help="prepared data folder (default: data/prepared/<scale>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


@command(
    "experiment", "run one experiment end to end: searches or sampling, then evaluation training", _experiment_args
)
def experiment_cmd(args) -> int:
    from stretchnas.config import all_experiments
    from stretchnas.experiment import run_experiment, write_summary

    settings = load_settings(args.params, args.scale)
    experiments = all_experiments(settings)
    if args.exp not in experiments:
        raise ConfigError(f"{args.params}: no experiment {args.exp!r}; known: {sorted(experiments)}")
    topology_from = None
    if experiments[args.exp]["kind"] == "random_ops":
        if not args.after:
            raise ConfigError(f"followups.{args.exp}: pass --after with the summary of its topology_from experiment")
        before = json.loads(Path(args.after).read_text())
        finals = [r["genotype_file"] for r in before["results"] if r["genotype"] == "final"]
        if before["experiment"] != experiments[args.exp]["topology_from"] or not finals:
            raise ConfigError(f"{args.after}: not a finished summary of {experiments[args.exp]['topology_from']!r}")
        topology_from = finals[0]
    data = _open_data(args, settings)
    summary = run_experiment(settings, args.exp, args.out, data, quiet=args.quiet, topology_from=topology_from)
    write_summary(summary, args.summary)
    print(json.dumps({"experiment": args.exp, "results": len(summary["results"]), "summary": args.summary}))
    return 0


# --------------------------------------------------------------------------- train


def _train_args(parser):
    _add_settings_args(parser)
    parser.add_argument("--genotype", required=True, help="a published name or a genotype .json (e.g. a search's)")
    parser.add_argument("--layers", type=int, required=True)
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--channels", type=int, help="initial channels C (even)")
    size.add_argument("--target-params", type=float, help="choose the even C whose params (M) are closest")
    parser.add_argument("--imagenet", action="store_true", help="ImageNet network and recipe (train_imagenet)")
    _add_run_args(parser, "the recipe's first seed")


@command("train", "train a genotype's network from scratch (or resume) and report its test error", _train_args)
def train_cmd(args) -> int:
    from stretchnas.published import get_genotype
    from stretchnas.training import TrainRun, choose_channels

    settings = load_settings(args.params, args.scale)
    recipe = settings["train_imagenet" if args.imagenet else "train"]
    data = _open_data(args, settings)
    genotype = get_genotype(args.genotype)
    num_classes = len(data.manifest["classes"])
    choice = None
    if args.target_params is not None:
        channels, params = choose_channels(genotype, args.layers, args.target_params, args.imagenet, num_classes)
        choice = {"target_params_m": args.target_params, "chosen_channels": channels, "params_m": round(params, 6)}
        print(json.dumps({"channel_choice": choice}))
    else:
        if args.channels % 2:
            raise ConfigError(f"--channels {args.channels}: must be even (FactorizedReduce halves it)")
        channels = args.channels
    seed = args.seed if args.seed is not None else recipe["seeds"][0]
    name = Path(args.genotype).stem if args.genotype.endswith(".json") else args.genotype
    run = TrainRun(genotype, name, args.layers, channels, recipe, data, args.out, seed, args.imagenet, choice)
    print(json.dumps(run.run(show_progress=not args.quiet)))
    return 0


# --------------------------------------------------------------------------- tables


def _tables_args(parser):
    _add_settings_args(parser)
    parser.add_argument("--summaries", nargs="+", required=True, help="experiment summary JSONs, or folders of them")
    parser.add_argument("--out", required=True, help="folder for the tables and figures (results/<scale>)")


@command("tables", "build the paper's tables and figures from experiment summaries", _tables_args)
def tables_cmd(args) -> int:
    from stretchnas.tables import build_tables

    settings = load_settings(args.params, args.scale)
    files = []
    for item in map(Path, args.summaries):
        files.extend(sorted(item.glob("*.json")) if item.is_dir() else [item])
    try:
        tables = build_tables(files, Path(args.out), settings["scale"])
    except ValueError as exc:
        raise ConfigError(f"stretchnas tables: {exc}") from None
    print(json.dumps({name: len(table) for name, table in tables.items()}))
    return 0


# --------------------------------------------------------------------------- bench

BENCH_KEYS = ("impl", "space", "topology", "optimizer", "channels", "layers", "nodes", "batch", "threads", "steps",
              "warmup", "channels_last", "recompute", "arch_split")  # fmt: skip


def _bench_args(parser):
    parser.add_argument("--params", default="params.yaml", help="optimiser constants come from its paper scale")
    parser.add_argument("--impl", choices=["stretchnas", "reference"], default="stretchnas")
    parser.add_argument("--space", choices=["darts", "nb201"], default="darts")
    parser.add_argument("--topology", default="darts")
    parser.add_argument("--optimizer", default="darts_1st")
    parser.add_argument("--simplify", action="store_true", help="the 2024 topological simplification")
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--nodes", type=int, default=4, help="intermediate nodes")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=torch_threads())
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--channels-last", type=int, choices=[0, 1], default=1, help="NHWC layout (stretchnas only)")
    parser.add_argument("--recompute", choices=["none", "alternate", "cells"], default="none")
    parser.add_argument("--arch-split", choices=["separate", "shared"], default="separate",
                        help="beta on its own batch (a second architecture pass) or on alpha's")  # fmt: skip
    parser.add_argument("--peak", action="store_true", help="measure dense-convolution GFLOP/s instead")
    parser.add_argument("--compare", nargs="+", metavar="KEY=VALUE,...", help="variants of this configuration")


def torch_threads() -> int:
    import os

    return len(os.sched_getaffinity(0))


@command("bench", "time one search step (or compare several), with peak memory and GFLOP/s", _bench_args)
def bench_cmd(args) -> int:
    from stretchnas import bench

    if args.peak:
        print(json.dumps(bench.peak_gflops(args.threads)))
        return 0
    cfg = {key: getattr(args, key) for key in BENCH_KEYS} | {"simplify": args.simplify}
    if args.compare:
        base = ["--params", args.params] + [f"--{k.replace('_', '-')}={v}" for k, v in cfg.items() if k != "simplify"]
        bench.compare(base, args.compare)
        return 0
    search = load_settings(args.params, "paper", environ={})["search"]
    try:
        result = bench.measure(cfg, search)
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"bench: {exc}") from None
    print(json.dumps(result))
    return 0


# --------------------------------------------------------------------------- config


@command("config", "print the resolved configuration of one scale as JSON", arguments=_add_settings_args)
def config_cmd(args) -> int:
    print(json.dumps(load_settings(args.params, args.scale), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stretchnas", description=__doc__)
    parser.add_argument("--version", action="version", version=f"stretchnas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (func, help_text, arguments) in COMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        if arguments is not None:
            arguments(child)
        child.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from stretchnas.data.cache import PreparedDataError
    from stretchnas.data.sources import DataSourceError
    from stretchnas.data.splits import SplitError
    from stretchnas.genotype import GenotypeError
    from stretchnas.runstate import RunError

    try:
        return args.func(args)
    except (ConfigError, DataSourceError, PreparedDataError, SplitError, GenotypeError, RunError) as exc:
        print(f"stretchnas {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

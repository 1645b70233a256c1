"""The `stretchnas` command: each subcommand parses its arguments and calls one library function."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import traceback

from stretchnas import StretchnasError, __version__
from stretchnas.runs.device import check_device_spec
from stretchnas.settings.params import Settings, load_settings

DESCRIPTION = """\
Reproduce "Stretchable Cells Help DARTS Search Better" and compare it with DARTS, MiLeNAS,
EDAS and TopoNAS's topological simplification: prepare CIFAR-10, search cells, train
them, look cells up in NAS-Bench-201, and build the paper's tables, figures and a claims
page that says what the runs can and cannot show. The workflow (`snakemake` or
`dvc repro`, over params.yaml) runs these commands as its jobs; each also works alone."""

EPILOG = """\
Start here: `make reproduce` rebuilds results/mini/ (open results/mini/README.md);
`stretchnas experiments` lists what params.yaml runs; `stretchnas config --scale paper`
shows a scale's settings. Errors are one line; --debug shows the traceback."""

COMMANDS = {}


def command(name: str, help: str, arguments=None):
    def register(func):
        COMMANDS[name] = (func, help, arguments)
        return func

    return register


def _number(kind, minimum, what: str):
    """An argparse type: `kind` (int or float) of at least `minimum`, with a message saying so."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not value >= minimum or not math.isfinite(value):  # nan compares false with everything
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    return parse


SEED = _number(int, 0, "a non-negative integer")
LAYERS = _number(int, 3, "a layer count of at least 3 (two reduction cells and a normal cell)")
CHANNELS = _number(int, 2, "a channel count of at least 2")
PARAMS_M = _number(float, 1e-6, "a positive number of parameters (M)")


def DEVICE(text: str) -> str:  # noqa: N802 (an argparse type, named like the others)
    try:
        return check_device_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _settings_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default="params.yaml", help="the configuration file (default: params.yaml)")
    parser.add_argument("--scale", choices=["smoke", "mini", "paper"], help="overrides the file's `scale` key")


# The commands the workflow runs once per job: the plan (Snakefile, `stretchnas dvc-yaml`) validated every
# scale already, so each job validates its own
JOB_COMMANDS = frozenset({"search", "random-search", "evaluate", "gather", "lookup", "tables"})


def _settings(args) -> Settings:
    every_scale = args.command not in JOB_COMMANDS
    return load_settings(args.params, args.scale, every_scale=every_scale).on_device(getattr(args, "device", None))


def _device_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", type=DEVICE, help="auto, cpu, cuda or cuda:N (default: params.yaml's, auto)")


def _data(args, settings, imagenet: bool = False):
    from stretchnas.data.cache import open_prepared

    return open_prepared(args.data, settings, imagenet)


def _run_args(parser: argparse.ArgumentParser, seed_default: str) -> None:
    """What every resumable run takes: where to write, which seed and data, whether to show progress."""
    parser.add_argument("--out", required=True, help="output folder (re-running the command resumes)")
    parser.add_argument("--seed", type=SEED, help=f"default: {seed_default}")
    parser.add_argument(
        "--data",
        help="prepared data folder (default: data/prepared/<scale>, or "
        "data/prepared/<scale>-imagenet for an ImageNet experiment)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--supersede",
        action="store_true",
        help="if --out holds a run of other settings, move it to --out/superseded/<time>/ and start "
        "over (the workflow's jobs do; without it such a folder is refused)",
    )
    _device_arg(parser)


def _print(obj) -> int:
    print(json.dumps(obj))
    return 0


# --------------------------------------------------------------------------- data and measures


def _prepare_data_args(parser):
    _settings_args(parser)
    parser.add_argument(
        "--source",
        help="'download', a CIFAR archive/folder, or an ImageFolder tree/tar "
        "(default: $STRETCHNAS_CIFAR10 or params.yaml data.source)",
    )
    parser.add_argument("--out", required=True, help="folder to write the prepared data into")
    parser.add_argument("--dataset", choices=["cifar10", "cifar100", "imagefolder"])
    parser.add_argument("--no-verify-checksums", action="store_true", help="accept a source whose MD5 differs")
    parser.add_argument(
        "--storage",
        choices=["arrays", "files"],
        help="arrays: decode into memory-mapped arrays (default: params.yaml data.storage); "
        "files: index an ImageFolder tree, decoded by DataLoader workers while training",
    )
    parser.add_argument(
        "--imagenet",
        action="store_true",
        help="prepare data.imagenet (Table 2's jobs): its source ($STRETCHNAS_IMAGENET), subset and "
        "search fraction, indexed in place (--storage files)",
    )


@command(
    "prepare-data",
    "read a data source and write the memory-mapped cache, splits.json and manifest.json",
    _prepare_data_args,
)
def prepare_data_cmd(args) -> int:
    from stretchnas.data.prepare import prepare_from_settings

    return _print(
        prepare_from_settings(
            _settings(args),
            args.out,
            args.source,
            args.dataset,
            verify_checksums=not args.no_verify_checksums,
            storage=args.storage,
            imagenet=args.imagenet,
        )
    )


def _measure_args(parser):
    parser.add_argument("--genotype", required=True, help="a published name (e.g. DARTS_V2) or a genotype .json")
    parser.add_argument("--layers", type=LAYERS, default=20)
    parser.add_argument("--channels", type=CHANNELS, default=36)
    parser.add_argument("--imagenet", action="store_true", help="the ImageNet network (224x224 input, 1000 classes)")
    parser.add_argument("--device", type=DEVICE, default="cpu", help="where to build and count it (default: cpu)")


@command("measure", "params (M), FLOPs (M), depth and width of a genotype's network", _measure_args)
def measure_cmd(args) -> int:
    from stretchnas.evaluation.measure import measure_named

    return _print(measure_named(args.genotype, args.layers, args.channels, args.imagenet, args.device))


def _published_table_args(parser):
    parser.add_argument("--out", required=True, help="CSV to write")
    parser.add_argument("--layers", type=LAYERS, default=20)
    parser.add_argument("--channels", type=CHANNELS, default=36)


@command("published-table", "params/FLOPs of the published cells beside the paper's Table 1", _published_table_args)
def published_table_cmd(args) -> int:
    from stretchnas.evaluation.published_cells import write_published_cells_table

    print(write_published_cells_table(args.out, args.layers, args.channels).to_string(index=False))
    return 0


# --------------------------------------------------------------------------- experiments and runs


def _experiments_args(parser):
    _settings_args(parser)
    parser.add_argument("--json", action="store_true", help="every experiment's fields and full settings as JSON")


@command(
    "experiments",
    "list the experiments of params.yaml at a scale: what each runs and which tables it feeds (--json: all settings)",
    _experiments_args,
)
def experiments_cmd(args) -> int:
    settings = _settings(args)
    if args.json:
        print(json.dumps(settings.describe_experiments(), indent=2))
        return 0
    from stretchnas.pipeline.jobs import Plan

    print(experiments_table(settings, Plan(settings).not_planned))
    return 0


def experiments_table(settings: Settings, not_planned: dict[str, str]) -> str:
    """One line per experiment: its procedure, method, optimiser, topology, nodes, depth, searches, width and
    tables, and why the plan leaves it out where it does."""
    import pandas as pd

    rows = []
    for e in settings.experiments.values():
        searches = "source's" if e.procedure == "retrain" else len(e.search.seeds)
        topology = e.topology_mode + (f" k={e.k}" if e.k else "")
        width = f"C={e.channels}" if e.channels else ("widened" if e.widen else "budget")
        rows.append(
            {
                "experiment": e.name,
                "procedure": e.procedure,
                "method": e.method,
                "optimizer": e.optimizer,
                "topology": topology,
                "nodes": e.intermediate_nodes,
                "layers": e.layers,
                "searches": searches,
                "width": width,
                "tables": ",".join(e.tables),
                "planned": f"no: {not_planned[e.name]}" if e.name in not_planned else "yes",
            }
        )
    return f"scale {settings.scale}, {len(rows)} experiments\n" + pd.DataFrame(rows).to_string(index=False)


def _search_args(parser):
    _settings_args(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--exp", help="a search experiment of params.yaml (see `stretchnas experiments`)")
    which.add_argument("--config", help="a YAML file with a `search:` block merged over params.yaml's defaults")
    _run_args(parser, "the experiment's first seed")


@command("search", "run (or resume) one supernet search", _search_args)
def search_cmd(args) -> int:
    from stretchnas.search.runner import run_search
    from stretchnas.settings.params import search_from_file

    settings = _settings(args)
    if args.exp:
        experiment = settings.experiment(args.exp, procedures=("search",))
    else:
        experiment = search_from_file(args.params, args.config, settings.scale).on_device(args.device)
    data = _data(args, settings, experiment.imagenet)
    genotype = run_search(experiment, data, args.out, args.seed, show_progress=not args.quiet, supersede=args.supersede)
    return _print({"out": args.out, "genotype": genotype.to_dict()})


def _proxy_sweep_args(parser):
    _settings_args(parser)
    parser.add_argument("--spec", required=True, help="the sweep's YAML: experiments, seeds, qualify_share, candidates")
    parser.add_argument("--out", required=True, help="folder of the sweep's searches (re-running resumes)")
    parser.add_argument("--csv", help="write one row per search here")
    parser.add_argument("--report", help="write the sweep as Markdown here (the rule, shares, costs, the choice)")
    parser.add_argument("--data", help="prepared data folder (default: data/prepared/<scale>)")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="CANDIDATE",
        help="run these candidates only (another "
        "process may run the rest into the same --out; a run over all reads finished searches back)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


@command(
    "proxy-sweep",
    "NAS-Bench-201: search candidate proxy configurations and choose one by rule, reading no benchmark table",
    _proxy_sweep_args,
)
def proxy_sweep_cmd(args) -> int:
    from stretchnas.runs.atomic import atomic_write_text
    from stretchnas.search.proxy_sweep import read_spec, report, run_sweep, summarise

    spec = read_spec(args.spec)
    if args.only:
        spec = spec.only(args.only)
    args.scale = args.scale or spec.scale
    settings = _settings(args)
    rows = run_sweep(spec, settings, _data(args, settings), args.out, show_progress=not args.quiet)
    table = summarise(rows, spec)
    if args.csv:
        atomic_write_text(args.csv, rows.to_csv(index=False, float_format="%.6g"))
    if args.report:
        atomic_write_text(args.report, report(rows, table, spec))
    chosen = table[table["chosen"]].iloc[0] if not table.empty else None
    return _print(
        {
            "chosen": None if chosen is None else chosen["candidate"],
            "qualifies": None if chosen is None else bool(chosen["qualifies"]),
            "candidates": table.drop(columns=["settings"]).to_dict(orient="records"),
        }
    )


def _random_args(parser):
    _settings_args(parser)
    parser.add_argument("--exp", required=True, help="a random_search or random_ops experiment of params.yaml")
    parser.add_argument("--topology-from", help="random_ops: the genotype.json whose topology is kept")
    _run_args(parser, "the experiment's first seed")


@command("random-search", "random baseline: sample genotypes, short-train each, keep the best on D_val", _random_args)
def random_search_cmd(args) -> int:
    from stretchnas.search.random_baselines import run_random_baseline

    settings = _settings(args)
    experiment = settings.experiment(args.exp, procedures=("random_search", "random_ops"))
    chosen = run_random_baseline(
        experiment,
        settings.train,
        _data(args, settings),
        args.out,
        args.seed,
        args.topology_from,
        not args.quiet,
        args.supersede,
    )
    return _print({"out": args.out, "genotype": chosen.to_dict()})


def _batch_args(parser):
    parser.add_argument(
        "commands",
        nargs=argparse.REMAINDER,
        help="the commands, each after --: `-- search --scale smoke --exp E --seed 0 --out D0 -- search ...`",
    )


@command(
    "batch",
    "run several search, random-search or lookup commands one after another in this process (the "
    "workflow's job for an experiment's seeds): each writes and resumes its own folder, as alone",
    _batch_args,
)
def batch_cmd(args) -> int:
    from stretchnas.pipeline.batch import run_batch, split_commands

    def run_one(argv: list[str]) -> int:
        try:
            return main(argv)
        except SystemExit as exc:  # a command line argparse refused: its message is out; the batch stops
            return exc.code if isinstance(exc.code, int) else 2

    return run_batch(split_commands(args.commands), run_one)


def _experiment_args(parser):
    _settings_args(parser)
    parser.add_argument("--exp", required=True, help="an experiment or followup of params.yaml")
    parser.add_argument("--root", default="runs", help="runs folder (default: runs); it holds <scale>/<exp>/")
    parser.add_argument("--data", help="prepared data folder (default: data/prepared/<scale>[-imagenet])")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    _device_arg(parser)


@command(
    "experiment",
    "run every job of one experiment in this process: searches or sampling, evaluation "
    "trainings, its summary (the workflow runs the same jobs separately)",
    _experiment_args,
)
def experiment_cmd(args) -> int:
    from stretchnas.pipeline.experiment import run_experiment

    settings = _settings(args)
    experiment = settings.experiment(args.exp)
    summary = run_experiment(settings, experiment, _data(args, settings, experiment.imagenet), args.root, args.quiet)
    return _print(
        {
            "experiment": args.exp,
            "results": len(summary["results"]),
            "not_run": len(summary["not_run"]),
            "lookups": len(summary["lookups"]),
        }
    )


def _evaluate_args(parser):
    _settings_args(parser)
    parser.add_argument("--exp", required=True, help="the experiment whose genotype this is (its layer count)")
    parser.add_argument("--genotype", required=True, help="a search's genotype.json, or its snapshots.json")
    parser.add_argument("--label", default="final", help="final, or a snapshot (epoch_NNN) of snapshots.json")
    parser.add_argument("--layers", type=LAYERS, help="cells of the network (default: the experiment's own count)")
    _run_args(parser, "the recipe's first seed")


@command(
    "evaluate",
    "train one of an experiment's genotypes from scratch, at the width its row is trained at (the parameter "
    "budget, a fixed C, or DARTS's network: evaluation.protocol)",
    _evaluate_args,
)
def evaluate_cmd(args) -> int:
    from stretchnas.pipeline.experiment import evaluate

    settings = _settings(args)
    experiment = settings.experiment(args.exp)
    data = _data(args, settings, experiment.imagenet)
    return _print(
        evaluate(
            settings,
            experiment,
            args.genotype,
            args.label,
            args.seed,
            args.out,
            data,
            quiet=args.quiet,
            layers=args.layers,
            supersede=args.supersede,
        )
    )


def _gather_args(parser):
    _settings_args(parser)
    parser.add_argument("--exp", required=True, help="an experiment or followup of params.yaml")
    parser.add_argument("--root", default="runs", help="runs folder its trainings are under (default: runs)")
    parser.add_argument("--out", required=True, help="the summary JSON to write")


@command("gather", "write an experiment's summary from its trainings' results", _gather_args)
def gather_cmd(args) -> int:
    from stretchnas.pipeline.summaries import gather

    settings = _settings(args)
    summary = gather(settings, settings.experiment(args.exp), args.out, args.root)
    return _print(
        {
            "experiment": args.exp,
            "results": len(summary["results"]),
            "not_run": len(summary["not_run"]),
            "lookups": len(summary["lookups"]),
        }
    )


def _train_args(parser):
    _settings_args(parser)
    parser.add_argument("--genotype", required=True, help="a published name or a genotype .json (e.g. a search's)")
    parser.add_argument(
        "--layers", type=LAYERS, required=True, help="cells of the network (DARTS: 20; the SC paper: the search's)"
    )
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--channels", type=CHANNELS, help="initial channels C (even)")
    size.add_argument("--target-params", type=PARAMS_M, help="choose the even C whose params (M) are closest")
    parser.add_argument("--imagenet", action="store_true", help="ImageNet network and recipe (train_imagenet)")
    _run_args(parser, "the recipe's first seed")


@command("train", "train a genotype's network from scratch (or resume) and report its test error", _train_args)
def train_cmd(args) -> int:
    from stretchnas.evaluation.training import run_training

    settings = _settings(args)
    data = _data(args, settings, args.imagenet)
    result = run_training(
        settings.train_imagenet if args.imagenet else settings.train,
        args.genotype,
        args.layers,
        args.out,
        data,
        args.channels,
        args.target_params,
        args.imagenet,
        args.seed,
        show_progress=not args.quiet,
        supersede=args.supersede,
    )
    return _print(result)


def _lookup_args(parser):
    _settings_args(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--arch", help="an NB201 arch string, |op~0|+|op~0|op~1|+|op~0|op~1|op~2|")
    which.add_argument("--genotype", help="an NB201 search's genotype.json")
    parser.add_argument(
        "--snapshots", help="with --genotype: the search's snapshots.json, whose every snapshot cell is scored too"
    )
    parser.add_argument("--out", help="write the result here (JSON) as well")


@command(
    "lookup",
    "NAS-Bench-201: a cell's CIFAR-10, CIFAR-100 and ImageNet16-120 accuracy from the "
    "benchmark's tables (params.yaml nasbench201, or $STRETCHNAS_NB201), each naming its table",
    _lookup_args,
)
def lookup_cmd(args) -> int:
    from stretchnas.evaluation.lookup import Tables, lookup, refuse_overwriting_foreign, score, score_file

    tables = Tables.from_settings(_settings(args))
    if args.out:
        refuse_overwriting_foreign(args.out)
    if args.arch is not None:  # '' is a malformed arch string, not a missing one
        if args.snapshots:
            raise StretchnasError("lookup: --snapshots scores a search's snapshots, with --genotype, not --arch")
        return _print(score(lookup(args.arch, tables), args.out))
    return _print(score_file(args.genotype, tables, args.out, args.snapshots))


# --------------------------------------------------------------------------- tables, bench, config


def _tables_args(parser):
    _settings_args(parser)
    parser.add_argument("--summaries", nargs="+", required=True, help="experiment summary JSONs, or folders of them")
    parser.add_argument("--out", required=True, help="folder for the tables' data (results/<scale>/data)")


@command("tables", "gather the data behind the paper's tables and figures from experiment summaries", _tables_args)
def tables_cmd(args) -> int:
    from stretchnas.pipeline.jobs import Plan
    from stretchnas.report.extract import build_tables

    settings = _settings(args)
    not_planned = {
        name: (settings.experiments[name].fields(), reason) for name, reason in Plan(settings).not_planned.items()
    }
    tables = build_tables(args.summaries, args.out, settings.scale, not_planned, settings.evidence)
    return _print({name: len(table) for name, table in tables.items()})


def _report_args(parser):
    parser.add_argument("--data", required=True, help="the tables stage's folder (results/<scale>/data)")
    parser.add_argument("--out", required=True, help="folder for the report (results/<scale>)")
    parser.add_argument(
        "--cell",
        action="append",
        default=[],
        metavar="NAME=GENOTYPE_FILE",
        help="draw this genotype as figures/cells/NAME.{svg,png} (Figure 3); repeatable",
    )


@command(
    "report", "every table in the paper's layout, every figure, and README.md with each claim's verdict", _report_args
)
def report_cmd(args) -> int:
    from stretchnas.report.build import build_report, parse_cells

    written = build_report(args.data, args.out, parse_cells(args.cell))
    return _print({"out": args.out, "files": sum(len(paths) for paths in written.values())})


def _bench_args(parser):
    from stretchnas.measurement import bench

    bench.add_arguments(parser)


@command("bench", "time one search step (or compare several), with peak memory and GFLOP/s", _bench_args)
def bench_cmd(args) -> int:
    from stretchnas.measurement import bench

    return bench.run(args)


def _estimate_args(parser):
    _settings_args(parser)
    parser.add_argument("--device", type=DEVICE, default="auto", help="where to time the steps (default: auto)")
    parser.add_argument("--threads", type=_number(int, 1, "a positive integer"), help="CPU threads (default: torch's)")
    parser.add_argument("--repeats", type=_number(int, 1, "a positive integer"), default=2, help="timed steps each")
    parser.add_argument("--exp", action="append", help="only this experiment (repeatable; default: all)")
    parser.add_argument("--out", help="also write the estimate as JSON here")
    parser.add_argument(
        "--step-seconds",
        metavar="JSON",
        help="an earlier estimate's --out: price the plan with the step times it measured (on its device), "
        "timing only configurations it lacks",
    )


@command(
    "estimate",
    "device-hours per experiment of a scale: every job's steps times per-step seconds timed here",
    _estimate_args,
)
def estimate_cmd(args) -> int:
    from stretchnas.pipeline.cost import estimate
    from stretchnas.runs.atomic import atomic_write_json
    from stretchnas.runs.documents import read_document

    result = estimate(
        _settings(args),
        args.device,
        repeats=args.repeats,
        threads=args.threads,
        only=args.exp,
        progress=lambda text: print(text, file=sys.stderr, flush=True),
        measured=read_document(args.step_seconds, json.loads, StretchnasError, "estimate (--step-seconds)")
        if args.step_seconds
        else None,
    )
    if args.out:
        atomic_write_json(args.out, result)
    return _print(result)


def _dvc_yaml_args(parser):
    _settings_args(parser)
    parser.add_argument("--out", default="dvc.yaml", help="where to write it (default: dvc.yaml)")
    parser.add_argument("--check", action="store_true", help="write nothing; fail if --out differs from a fresh one")


@command(
    "dvc-yaml", "write dvc.yaml: one DVC stage per workflow job of the scale, with the params it reads", _dvc_yaml_args
)
def dvc_yaml_cmd(args) -> int:
    from stretchnas.pipeline.dvcfile import check_dvc_yaml, write_dvc_yaml

    settings = _settings(args)
    if args.check:
        check_dvc_yaml(settings, args.out)
        return _print({"dvc_yaml": args.out, "up_to_date": True})
    return _print({"dvc_yaml": args.out, "stages": write_dvc_yaml(settings, args.out)})


def _job_costs_args(parser):
    parser.add_argument("--runs", required=True, help="a scale's runs folder, e.g. runs/mini")
    parser.add_argument("--format", choices=["md", "csv"], default="md", help="Markdown (default) or CSV")


@command(
    "job-costs",
    "minutes and peak memory per experiment, from the job records (job.tsv) the workflow kept",
    _job_costs_args,
)
def job_costs_cmd(args) -> int:
    from stretchnas.pipeline.job_records import costs, read_records

    table = costs(read_records(args.runs))
    print(table.to_markdown(index=False) if args.format == "md" else table.to_csv(index=False), end="\n")
    return 0


@command("config", "print the resolved configuration of one scale as JSON", _settings_args)
def config_cmd(args) -> int:
    settings = _settings(args)
    print(json.dumps({**settings.tree, "params_file": settings.params_file}, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stretchnas", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"stretchnas {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (func, help_text, arguments) in COMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        if arguments is not None:
            arguments(child)
        child.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StretchnasError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"stretchnas {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"stretchnas {args.command}: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (`| head`) stopped reading: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug or an unforeseen fault: one line, the traceback on request
        if args.debug:
            traceback.print_exc()
        hint = "" if args.debug else " (run with --debug for the traceback)"
        print(f"stretchnas {args.command}: unexpected error: {type(exc).__name__}: {exc}{hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

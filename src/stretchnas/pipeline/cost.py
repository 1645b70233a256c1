"""What a scale costs: the steps of every job of the plan, times per-step seconds measured on a device.

`stretchnas estimate --scale paper` counts each job's optimisation steps from the settings and the
data sizes (no data needed), measures one step of each distinct search and training configuration
on the device it runs on (random batches of the data's image size; a few steps after warm-up), and
extrapolates device-hours per experiment. Evaluation networks are timed with DARTS_V2's cell at the
channel count the parameter budget gives it, standing in for the searched cells (which are matched
to the same budget, so of similar cost). Evaluation passes over the test set are not counted. Table 2's
ImageNet experiments are not estimated: their image counts are those of the ImageNet tree.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from stretchnas.data.datasets import DATASETS
from stretchnas.data.splits import part_bounds
from stretchnas.pipeline.jobs import NOT_READ, Plan
from stretchnas.settings.params import ConfigError, Settings
from stretchnas.settings.types import SearchSettings


@dataclass(frozen=True)
class Work:
    """One job's optimisation steps and what one step looks like."""

    job: str
    experiment: str
    kind: str  # search | train
    steps: int
    config: str | tuple  # hashable: what a step's cost depends on (a search: all its settings, as JSON)
    label: tuple  # the configuration's defining fields, for the report


def images(settings: Settings, scheme: str | None, part: str) -> int:
    """Images in a part of the training set (`pool`: every selected training image)."""
    data = settings.data
    info = DATASETS[data.dataset]
    per_class = data.train_per_class or info.train_per_class
    if per_class is None or info.num_classes is None:
        raise ConfigError(
            f"{settings.params_file}: data.dataset {data.dataset}: "
            "an estimate needs the image counts, known only for CIFAR"
        )
    if part == "pool":
        return per_class * info.num_classes
    start, stop = part_bounds(per_class, data.split_schemes[scheme].fractions())[part]
    return (stop - start) * info.num_classes


def steps_of(epochs: int, count: int, batch: int, cap: int | None) -> int:
    per_epoch = math.ceil(count / batch)
    return epochs * (min(per_epoch, cap) if cap else per_epoch)


def _train_config(layers: int, channels: int | None, batch: int) -> tuple:
    return ("train", layers, channels, batch)


def plan_work(settings: Settings, only: list[str] | None = None) -> list[Work]:
    """Every search and training step of the scale's plan (random baselines: their sample trainings),
    of every experiment or of those named in `only`."""
    work, recipe, plan = [], settings.train, Plan(settings)
    jobs = [
        (experiment, job)
        for experiment in plan.planned_experiments()
        if not experiment.imagenet and (not only or experiment.name in only)
        for job in plan.experiment_jobs(experiment)
        if job.rule in ("search", "random", "evaluate")
    ]
    for experiment, job in jobs:
        s = experiment.search
        if job.rule == "search":
            steps = steps_of(s.epochs, images(settings, s.split_scheme, "train"), s.batch_size, s.max_steps_per_epoch)
            config = json.dumps({k: v for k, v in s.to_tree().items() if k not in NOT_READ}, sort_keys=True)
            label = (
                "search",
                s.optimizer,
                s.topology.mode,
                s.topology.k,
                s.intermediate_nodes,
                s.layers,
                s.channels,
                s.batch_size,
            )
            work.append(Work(job.name, experiment.name, "search", steps, config, label))
        elif job.rule == "random":
            r = experiment.random
            per_sample = steps_of(
                r.train_epochs, images(settings, s.split_scheme, "train"), recipe.batch_size, recipe.max_steps_per_epoch
            )
            config = _train_config(r.layers, r.channels, recipe.batch_size)
            work.append(Work(job.name, experiment.name, "train", r.samples * per_sample, config, config))
        else:
            steps = steps_of(
                recipe.epochs, images(settings, None, "pool"), recipe.batch_size, recipe.max_steps_per_epoch
            )
            # a fixed C where one is set, else the budget's (a widened budget row: timed at the budget's C)
            config = _train_config(job.wildcards["layers"], experiment.channels, recipe.batch_size)
            work.append(Work(job.name, experiment.name, "train", steps, config, config))
    return work


def time_calls(step: Callable[[], object], warmup: int, repeats: int, device) -> float:
    """Median seconds of `step` after `warmup` untimed calls (bench's timing)."""
    import torch

    from stretchnas.measurement.bench import step_times

    for _ in range(warmup):
        step()
    if device.type == "cuda":  # the warm-up's queued kernels are not the first timed step's
        torch.cuda.synchronize(device)
    return statistics.median(step_times(step, repeats, device))


def image_size(settings: Settings) -> int:
    """The side of the prepared images: data.image_size, or the data set's own."""
    return settings.data.image_size or DATASETS[settings.data.dataset].image_size


def _batch(batch: int, size: int, classes: int, device):
    import torch

    from stretchnas.runs.device import to_device

    generator = torch.Generator().manual_seed(0)
    return to_device(
        (
            torch.randn(batch, 3, size, size, generator=generator),
            torch.randint(0, classes, (batch,), generator=generator),
        ),
        device,
    )


def search_step(settings: Settings, config: str, device) -> Callable[[], object]:
    """One step of the search whose settings `config` holds (as JSON), on random batches."""
    from stretchnas.method.networks import build_search_network
    from stretchnas.search.optimizers import StepBatches, build_search_optimizer

    # the config leaves out what does not change a step's cost (NOT_READ: device, workers, seeds)
    search = SearchSettings.from_tree({**json.loads(config), "seeds": [0]}, "search")
    info = DATASETS[settings.data.dataset]
    net = build_search_network(search, num_classes=info.num_classes).to(device)
    step_optimizer = build_search_optimizer(search.optimizer, net, search)
    separate = net.topology.has_beta and search.beta_data == "separate"
    batch = lambda: _batch(search.batch_size, image_size(settings), info.num_classes, device)  # noqa: E731
    batches = StepBatches(batch(), batch(), batch() if separate else None)
    return lambda: step_optimizer.step(batches)


def train_step(settings: Settings, config: tuple, device) -> Callable[[], object]:
    import torch
    import torch.nn.functional as F

    from stretchnas.evaluation.training import choose_channels
    from stretchnas.method.evalnet import EvalNetwork
    from stretchnas.method.published_genotypes import get_genotype

    _, layers, channels, batch = config
    info = DATASETS[settings.data.dataset]
    genotype = get_genotype("DARTS_V2")
    if channels is None:
        channels, _ = choose_channels(genotype, layers, settings.evaluation.target_params_m, False, info.num_classes)
    recipe = settings.train
    model = EvalNetwork(genotype, channels, info.num_classes, layers, auxiliary=recipe.auxiliary_weight > 0)
    model = model.to(device).train()
    model.drop_path_prob = recipe.drop_path
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum)
    x, y = _batch(batch, image_size(settings), info.num_classes, device)

    def step():
        logits, aux = model(x)
        loss = F.cross_entropy(logits, y) + recipe.auxiliary_weight * F.cross_entropy(aux, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


DEVICE_FIELDS = ("device", "device_name", "cuda", "cudnn")


def known_step_seconds(measured: dict) -> dict[tuple, float]:
    """An earlier estimate's per-step seconds by configuration label (what `step_seconds` holds)."""
    try:
        return {tuple(row["config"]): float(row["s_per_step"]) for row in measured["step_seconds"]}
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"not an estimate's JSON (step_seconds[].config, .s_per_step): {error}") from None


def estimate(
    settings: Settings,
    device: str = "auto",
    warmup: int = 1,
    repeats: int = 2,
    threads: int | None = None,
    only: list[str] | None = None,
    progress: Callable[[str], None] = lambda text: None,
    measured: dict | None = None,
) -> dict:
    """Device-hours per experiment at `settings`' scale (all, or those in `only`), from per-step times measured
    here, or taken from `measured` (an earlier estimate's JSON, on its device) for the configurations it timed."""
    import torch

    from stretchnas.runs.device import describe_device, resolve_device

    for name in only or ():
        settings.experiment(name)  # an unknown name is a clear error before any timing
    work = plan_work(settings, only)
    labels = {w.config: w.label for w in work}
    known = known_step_seconds(measured) if measured else {}
    seconds = {config: known[label] for config, label in labels.items() if label in known}
    if measured and len(seconds) == len(labels):  # nothing to time: the earlier estimate's device is the one priced
        where, described, used_threads = None, {k: measured.get(k) for k in DEVICE_FIELDS}, measured.get("threads")
    else:
        if threads:
            torch.set_num_threads(threads)
        torch.manual_seed(0)
        where = resolve_device(device)
        described = describe_device(where)
        if measured and measured.get("device_name") != described["device_name"]:
            raise ConfigError(
                f"the step times given were measured on {measured.get('device_name')!r}, not this device "
                f"({described['device_name']!r}), and {len(labels) - len(seconds)} configuration(s) "
                "still need timing: one estimate prices one device"
            )
        used_threads = torch.get_num_threads() if where.type == "cpu" else None
    for config, label in labels.items():
        if config in seconds:
            continue
        progress(f"timing {label}")
        build = search_step if label[0] == "search" else train_step
        seconds[config] = time_calls(build(settings, config, where), warmup, repeats, where)
    experiments: dict[str, dict] = {}
    for w in work:
        row = experiments.setdefault(
            w.experiment, {"search_steps": 0, "train_steps": 0, "search_hours": 0.0, "train_hours": 0.0, "jobs": 0}
        )
        row[f"{w.kind}_steps"] += w.steps
        row[f"{w.kind}_hours"] += w.steps * seconds[w.config] / 3600
        row["jobs"] += 1
    for row in experiments.values():
        row["hours"] = row["search_hours"] + row["train_hours"]
    return {
        "scale": settings.scale,
        **described,
        "threads": used_threads,
        "timed_here": [list(label) for label in labels.values() if label not in known],
        "step_seconds": [{"config": list(labels[c]), "s_per_step": round(s, 4)} for c, s in seconds.items()],
        "experiments": {
            name: {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}
            for name, row in experiments.items()
        },
        "total_hours": round(sum(row["hours"] for row in experiments.values()), 1),
    }

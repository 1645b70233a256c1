"""Where an epoch's wall time goes outside its steps: a real search or training at a scale's settings, timed
part by part (benchmarks/run.py's "Per-epoch overheads").

A run's hooks are wrapped with timers that count self time (a part called inside another counts once, as
itself): the steps, the epoch's row (a search's derivation and entropies, a training's evaluation pass), the
state's finiteness check, the per-epoch outputs (a search's architecture and snapshot files), metrics.csv,
and the checkpoint. The run is otherwise the workflow's, in a temporary folder.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from pathlib import Path

from stretchnas.runs.loop import EpochRun

# hook -> the part of an epoch it is counted under
PARTS = {
    "train_step": "steps",
    "epoch_row": "row (derivation or evaluation)",
    "_checked_state": "state check",
    "end_epoch": "per-epoch outputs",
    "_write_metrics": "metrics.csv",
    "_save": "checkpoint",
}
STEPS = PARTS["train_step"]


class _Timers:
    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self._children: list[float] = []

    def wrap(self, part: str, method):
        def timed(*args, **kwargs):
            self._children.append(0.0)
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = self._children.pop()
                self.seconds[part] += elapsed - inner
                if self._children:
                    self._children[-1] += elapsed

        return timed


def time_parts(run: EpochRun) -> dict:
    """Run `run` (quietly) with its hooks timed: seconds per part over the whole run, the run's wall seconds
    and what of it is not per epoch, and `overhead_share`, the part of the epochs' wall time outside steps."""
    timers = _Timers()
    for hook, part in PARTS.items():
        setattr(run, hook, timers.wrap(part, getattr(run, hook)))
    start = time.perf_counter()
    run.run(show_progress=False)
    wall = time.perf_counter() - start
    seconds = {part: timers.seconds.get(part, 0.0) for part in PARTS.values()}
    epochs = sum(seconds.values())  # the epochs' wall time: their steps and everything else they do
    return {
        "wall_s": round(wall, 3),
        "once_s": round(wall - epochs, 3),  # building, resuming, the final file: not per epoch
        "epochs": run.loop.epochs,
        "steps_per_epoch": run.steps_per_epoch(),
        "seconds": {part: round(value, 4) for part, value in seconds.items()},
        "overhead_share": round((epochs - seconds[STEPS]) / epochs, 4),
    }


def measure_experiment(
    params: str, scale: str, experiment_name: str, data_folder: str, threads: int = 1, eval_every: tuple[int, ...] = ()
) -> dict:
    """One search of `experiment_name` at `scale` (its first seed) and, in the DARTS space, one training of the
    cell it found at its own depth and the evaluation's fixed C, each timed part by part: `runs`, a list of
    {kind, eval_every, ...time_parts}. The training runs once with the scale's recipe and once more with each
    other value in `eval_every`."""
    from stretchnas.data.cache import open_prepared
    from stretchnas.evaluation.training import TrainRun, TrainSpec
    from stretchnas.search.runner import SearchRun
    from stretchnas.settings.params import load_settings

    settings = load_settings(params, scale, environ={})
    experiment = settings.experiment(experiment_name, procedures=("search",))
    data = open_prepared(data_folder, settings)
    search_settings = experiment.search.replace(threads=threads)
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        search = SearchRun(experiment.name, search_settings, data, Path(folder) / "search", search_settings.seeds[0])
        runs.append({"kind": "search", "eval_every": None, **time_parts(search)})
        if not experiment.on_nb201:  # NAS-Bench-201's cells are looked up, never trained
            genotype = search.load_result()
            recipe = settings.recipe(experiment).replace(threads=threads)
            spec = TrainSpec(genotype, experiment.name, experiment.layers, settings.evaluation.fixed_channels)
            for every in dict.fromkeys((recipe.eval_every, *eval_every)):
                run = TrainRun(spec, recipe.replace(eval_every=every), data, Path(folder) / f"train{every}", 0)
                runs.append({"kind": "training", "eval_every": every, **time_parts(run)})
    return {"experiment": experiment_name, "scale": scale, "runs": runs}

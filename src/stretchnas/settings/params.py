"""params.yaml: the one configuration, a base plus one overlay per scale.

`load_settings` merges the selected scale's overlay into the base, validates
every scale's merged result against the JSON schema, and applies the checks a
schema cannot express. Errors name the file, the key path as written in the
file (``scales.mini.loader.batch_size``), the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from stretchnas import StretchnasError
from stretchnas.data.datasets import DATASETS
from stretchnas.data.splits import part_bounds
from stretchnas.evaluation.nb201_files import ENV_VAR as NB201_ENV_VAR
from stretchnas.evaluation.nb201_files import FULL_FILE as NB201_FULL_FILE
from stretchnas.evaluation.nb201_files import SUBSET_FILE as NB201_SUBSET_FILE
from stretchnas.method.spaces import DARTS_CELL_ONLY
from stretchnas.report.artefacts import TABLE_TAGS
from stretchnas.runs.documents import read_document
from stretchnas.settings.types import (
    DataSettings,
    EvaluationSettings,
    EvidenceSettings,
    NB201Tables,
    RandomSettings,
    SearchSettings,
    TrainSettings,
    WorkflowSettings,
    deep_merge,
)

SCALES = ("smoke", "mini", "paper")
# Experiments that start from another experiment's result (params.yaml `followups`).
FOLLOWUP_PROCEDURES = ("random_ops", "retrain")


class ConfigError(StretchnasError, ValueError):
    """A configuration value that cannot be used; the message says where and why."""


# libyaml's parser where PyYAML was built with it: the same documents, read ten times faster (every job
# reads params.yaml and the schema before it starts)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str):
    return yaml.load(text, Loader=_YAML_LOADER)  # a safe loader either way


@functools.cache
def _schema_text() -> str:
    return resources.files("stretchnas.settings").joinpath("schema.yaml").read_text()


def _schema() -> dict:
    return load_yaml(_schema_text())


def _filling_defaults(validator_class):
    """A validator that also writes each schema `default` into the instance: defaults live in the
    schema alone, and code reads every key directly."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in props.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


SettingsValidator = _filling_defaults(jsonschema.Draft202012Validator)


def _has_path(tree: Any, path: list) -> bool:
    for key in path:
        if not isinstance(tree, Mapping) or key not in tree:
            return False
        tree = tree[key]
    return True


def _where(path: list, overlay: Mapping, scale: str) -> str:
    """The key path as the user wrote it: inside the overlay if it set that key."""
    dotted = ".".join(str(p) for p in path) or "<top level>"
    if path and _has_path(overlay, path):
        return f"scales.{scale}.{dotted}"
    return dotted


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return f"unknown key(s) {extra}; allowed keys are {allowed}"
    if error.validator == "enum":
        return f"{error.instance!r} is not allowed; choose one of {error.validator_value}"
    if error.validator == "required":
        return error.message
    return f"{error.instance!r} is not allowed: {error.message}"


def _error_path(error: jsonschema.ValidationError) -> list:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        if len(extra) == 1:
            path.append(extra[0])
    return path


def _search_errors(search: Mapping, data: Mapping, path: list) -> list[tuple[list, str]]:
    errors = []
    schemes = data["split_schemes"]
    if search["split_scheme"] not in schemes:
        errors.append(
            (
                path + ["split_scheme"],
                f"{search['split_scheme']!r} is not a split scheme; data.split_schemes has {sorted(schemes)}",
            )
        )
    elif (
        search["beta_data"] == "separate"
        and not search["topology"]["mode"].startswith("darts")
        and schemes[search["split_scheme"]]["val_beta"] <= 0
    ):
        errors.append(
            (
                path + ["beta_data"],
                f"'separate' needs a D_val_beta, but split scheme {search['split_scheme']!r} has val_beta 0; "
                "use a three-way scheme or beta_data: shared",
            )
        )
    late = [e for e in search["snapshot_epochs"] if e > search["epochs"]]
    if late:
        errors.append((path + ["snapshot_epochs"], f"{late} lie beyond epochs: {search['epochs']}"))
    if search["op_space"] != "darts" and search["topology"]["mode"] in DARTS_CELL_ONLY:
        errors.append(
            (
                path + ["topology", "mode"],
                f"{search['topology']['mode']!r} needs DARTS's two-input cell, not the {search['op_space']} space's",
            )
        )
    pc = search["pc_darts"]
    if pc["partial_channels"] > 1 and search["channels"] % (2 * pc["partial_channels"]):
        errors.append(
            (
                path + ["channels"],
                f"{search['channels']} channels cannot be split in "
                f"{pc['partial_channels']} even parts (pc_darts.partial_channels)",
            )
        )
    if pc["edge_normalization"] and search["optimizer"] == "edas":
        errors.append(
            (
                path + ["pc_darts", "edge_normalization"],
                "edas updates one alpha row per step (sparse Adam); it does not take edge-normalisation weights",
            )
        )
    if search["arch_warmup_epochs"] >= search["epochs"]:
        errors.append(
            (
                path + ["arch_warmup_epochs"],
                f"{search['arch_warmup_epochs']} leaves no architecture step in {search['epochs']} epochs",
            )
        )
    if search["sampling"] == "gdas" and search["optimizer"] == "edas":
        errors.append(
            (
                path + ["sampling"],
                "gdas draws one op on every edge; edas relaxes one edge and clamps the rest: choose one",
            )
        )
    if "k" in search["topology"] and search["topology"]["mode"] != "output_k":
        errors.append((path + ["topology", "k"], "only topology mode output_k takes k"))
    if search["topology"]["mode"] == "output_k" and "k" not in search["topology"]:
        errors.append((path + ["topology"], "mode output_k needs k (1..4)"))
    return errors


def _non_finite_errors(value, path: list) -> list[tuple[list, str]]:
    """Every NaN or infinite number in the tree (YAML's .nan, .inf): the schema's bounds compare false with NaN,
    so they pass them."""
    if isinstance(value, float) and not math.isfinite(value):
        return [(path, f"{value} is not a finite number")]
    if isinstance(value, Mapping):
        return [error for key, item in value.items() for error in _non_finite_errors(item, [*path, key])]
    if isinstance(value, list):
        return [error for i, item in enumerate(value) for error in _non_finite_errors(item, [*path, i])]
    return []


def _semantic_errors(settings: Mapping) -> list[tuple[list, str]]:
    errors = _non_finite_errors(settings, [])
    if errors:
        return errors
    data = settings["data"]
    for name, scheme in data["split_schemes"].items():
        total = scheme["train"] + scheme["val_alpha"] + scheme["val_beta"]
        if total > 1 + 1e-9:
            errors.append((["data", "split_schemes", name], f"fractions sum to {total:g}; they must sum to at most 1"))
    errors += _search_errors(settings["search"], data, ["search"])
    for name, experiment in all_experiments(settings).items():
        section = experiment_section(settings, name)
        errors += _search_errors(experiment_search(settings, name), data, [section, name, "search"])
        source = experiment.get("topology_from")
        if source is not None and settings["experiments"].get(source, {}).get("procedure") != "search":
            errors.append(([section, name, "topology_from"], f"{source!r} is not a search experiment"))
        elif source is not None:
            errors += _topology_seed_errors(settings, name, [section, name])
        if (experiment["procedure"] in FOLLOWUP_PROCEDURES) != (section == "followups"):
            errors.append(
                (
                    [section, name, "procedure"],
                    f"{' and '.join(FOLLOWUP_PROCEDURES)} experiments, and only they, belong under followups",
                )
            )
        errors += _unknown_tables([section, name, "tables"], experiment.get("tables", []))
        if experiment.get("imagenet") and experiment["procedure"] == "search":
            if experiment_search(settings, name)["channels_last"]:
                errors.append(
                    (
                        [section, name, "search", "channels_last"],
                        "must be false for an ImageNet search: "
                        "torch's CPU channels-last backward of a 1x1 stride-2 convolution with few channels "
                        "(the first cell reading the stem's 56x56 output) corrupts memory",
                    )
                )
        rules = [key for key in ("channels", "width", "widen") if key in experiment]
        if len(rules) > 1:
            errors.append(([section, name], f"{' and '.join(rules)}: give one width rule, not {len(rules)}"))
        if experiment.get("imagenet") and "channels" not in experiment:
            errors.append(
                (
                    [section, name, "channels"],
                    "an ImageNet experiment trains at a fixed C (DARTS: 48); the parameter budget is CIFAR's",
                )
            )
    errors += _repeated_search_errors(settings)
    for key in ("snapshots_for", "layers_for"):
        errors += _unknown_tables(["evaluation", key], settings["evaluation"][key])
    overlap = set(settings["experiments"]) & set(settings.get("followups", {}))
    if overlap:
        errors.append((["followups"], f"names also used under experiments: {sorted(overlap)}"))
    info = DATASETS[data["dataset"]]
    per_class = data["train_per_class"] or info.train_per_class
    for name, scheme in data["split_schemes"].items() if per_class else ():
        for part, (start, stop) in part_bounds(per_class, scheme).items():
            if scheme[part] > 0 and stop == start:
                errors.append(
                    (
                        ["data", "split_schemes", name, part],
                        f"{scheme[part]:g} of {per_class} images per class is no image at all; "
                        "select more images per class (data.train_per_class) or change the fractions",
                    )
                )
    for key in ("train_per_class", "test_per_class"):
        wanted, available = data[key], getattr(info, key)
        if wanted is not None and available is not None and wanted > available:
            errors.append(
                (["data", key], f"{wanted} is more than the {available} images per class that {data['dataset']} has")
            )
    return errors


# Search settings that change where or how often a search works, never what it computes
NOT_THE_SEARCH = ("seeds", "device", "workers", "threads", "checkpoint_every_steps")


def search_signature(settings: Mapping, name: str) -> str:
    """What a search experiment computes, as one comparable string: its search settings and data, with
    topology modes that name the same space written one way (output_k with k = 2 is output_pairs)."""
    search = {k: v for k, v in experiment_search(settings, name).items() if k not in NOT_THE_SEARCH}
    if search["topology"] == {**search["topology"], "mode": "output_k", "k": 2}:
        search["topology"] = {k: v for k, v in search["topology"].items() if k != "k"} | {"mode": "output_pairs"}
    imagenet = bool(all_experiments(settings)[name].get("imagenet"))
    return json.dumps({"search": search, "imagenet": imagenet}, sort_keys=True)


def _repeated_search_errors(settings: Mapping) -> list[tuple[list, str]]:
    """One search per distinct setting: a second experiment computing the same search would run it again and
    name it twice in the tables (list the other's tables on the first instead)."""
    first: dict[str, str] = {}
    errors = []
    for name, entry in settings["experiments"].items():
        if entry["procedure"] != "search":
            continue
        signature = search_signature(settings, name)
        if signature in first:
            errors.append(
                (
                    ["experiments", name, "search"],
                    f"the same search as {first[signature]!r} (only the seeds or where it runs may differ): "
                    f"add {name!r}'s tables to {first[signature]!r} and remove {name!r}",
                )
            )
        first.setdefault(signature, name)
    return errors


def _unknown_tables(path: list, tags: list) -> list[tuple[list, str]]:
    unknown = [tag for tag in tags if tag not in TABLE_TAGS]
    return [(path, f"{unknown}: no such table; the tables are {list(TABLE_TAGS)}")] if unknown else []


def _topology_seed_errors(settings: Mapping, name: str, path: list) -> list[tuple[list, str]]:
    """A followup needs, for each of its seeds, a search seed of its source to start from."""
    entry = all_experiments(settings)[name]
    source_seeds = experiment_search(settings, entry["topology_from"])["seeds"]
    rule = entry.get("topology_seed", "paired")
    wanted = experiment_search(settings, name)["seeds"] if rule == "paired" else [rule]
    missing = [seed for seed in wanted if seed not in source_seeds]
    if not missing:
        return []
    how = "paired with its own seeds" if rule == "paired" else "named"
    return [
        (
            path + ["topology_seed"],
            f"search seed(s) {missing} ({how}) are not among {entry['topology_from']!r}'s seeds {source_seeds}",
        )
    ]


def all_experiments(settings: Mapping) -> dict:
    return {**settings["experiments"], **settings.get("followups", {})}


def experiment_section(settings: Mapping, name: str) -> str:
    return "followups" if name in settings.get("followups", {}) else "experiments"


def experiment_search(settings: Mapping, name: str) -> dict:
    """The search settings of one experiment: the scale's defaults with the experiment's overrides (a
    retrain has its source's, as its cells are the source's)."""
    entry = all_experiments(settings)[name]
    if entry["procedure"] == "retrain":
        return experiment_search(settings, entry["topology_from"])
    return deep_merge(settings["search"], entry.get("search") or {})


def widened(channels: int, factor: float) -> int:
    """`channels` times `factor`, to the nearest even count (FactorizedReduce halves C)."""
    return max(2, 2 * round(channels * factor / 2))


@dataclass(frozen=True)
class Experiment:
    """One entry of params.yaml's experiments or followups, with its search settings merged in.

    What defines an experiment is carried as fields (method, optimiser, topology
    mode, nodes, k, layers), so nothing downstream parses its name.
    """

    name: str
    section: str  # 'experiments' or 'followups'
    procedure: str  # search | random_search | random_ops | retrain
    method: str
    tables: tuple[str, ...]
    search: SearchSettings
    random: RandomSettings | None
    topology_from: str | None
    topology_seed: int | str | None = None  # followups: 'paired' or a named search seed of topology_from
    channels: int | None = None  # the fixed C its cells are trained at (else the parameter budget), as resolved
    imagenet: bool = False  # its searches and trainings use data.imagenet
    eval_layers: int | None = None  # cells of its evaluation networks, where not the search's
    width: str = "budget"  # as params.yaml gives it (budget, fixed, darts_network); `channels` holds its C
    widen: float | None = None  # a retrain: its source's width for the same cell, times this

    @property
    def searches_imagenet(self) -> bool:
        return self.imagenet and self.procedure == "search"

    @property
    def on_nb201(self) -> bool:
        """Searched in the NAS-Bench-201 space and scored by table lookup instead of training."""
        return self.search.op_space == "nb201"

    @property
    def recipe_section(self) -> str:
        """The settings section of its evaluation trainings' recipe."""
        return "train_imagenet" if self.imagenet else "train"

    def topology_source_seed(self, seed: int) -> int:
        """The search seed of `topology_from` whose final genotype followup seed `seed` starts from."""
        return seed if self.topology_seed == "paired" else self.topology_seed

    @property
    def optimizer(self) -> str:
        return self.search.optimizer

    @property
    def topology_mode(self) -> str:
        return self.search.topology.mode

    @property
    def k(self) -> int | None:
        return self.search.topology.k

    @property
    def intermediate_nodes(self) -> int:
        return self.search.intermediate_nodes

    @property
    def layers(self) -> int:
        """Layers of the networks its cells are evaluated with: its own setting, else the random baseline's
        or the search's."""
        if self.eval_layers:
            return self.eval_layers
        return self.random.layers if self.random else self.search.layers

    def on_device(self, device: str | None) -> Experiment:
        """The same experiment computed on `device` (None: as configured)."""
        return self if device is None else dataclasses.replace(self, search=self.search.on_device(device))

    def describe(self) -> dict:
        """Its defining fields and its full settings."""
        return {
            **self.fields(),
            "search": self.search.to_tree(),
            "random": self.random.to_tree() if self.random else None,
            "topology_from": self.topology_from,
            "topology_seed": self.topology_seed,
        }

    def fields(self) -> dict:
        """What a summary records about the experiment, for the tables to group by."""
        return {
            "experiment": self.name,
            "procedure": self.procedure,
            "method": self.method,
            "tables": list(self.tables),
            "optimizer": self.optimizer,
            "topology_mode": self.topology_mode,
            "simplified": self.search.simplify,
            "k": self.k,
            "intermediate_nodes": self.intermediate_nodes,
            "search_layers": self.search.layers,
            "eval_layers": self.layers,
            "eval_channels": self.channels,
            "eval_width": f"x{self.widen:g} of {self.topology_from}'s" if self.widen else self.width,
            "imagenet": self.imagenet,
        }


def _experiment(tree: Mapping, name: str) -> Experiment:
    """Experiment `name` of a validated settings tree."""
    entry = all_experiments(tree)[name]
    random = entry.get("random")
    return Experiment(
        name=name,
        section=experiment_section(tree, name),
        procedure=entry["procedure"],
        method=entry["method"],
        tables=tuple(entry["tables"]),
        search=SearchSettings.from_tree(experiment_search(tree, name), f"{name}.search"),
        random=RandomSettings.from_tree(random, f"{name}.random") if random else None,
        topology_from=entry.get("topology_from"),
        topology_seed=entry.get("topology_seed"),
        imagenet=entry.get("imagenet", False),
        width=entry.get("width", "budget"),
        widen=entry.get("widen"),
        **_evaluated_at(tree, entry),
    )


def _evaluated_at(tree: Mapping, entry: Mapping) -> dict:
    """An experiment's evaluation network as evaluation.protocol resolves its `width`: `fixed` rows at
    evaluation.fixed_channels, `darts_network` rows also at evaluation.darts_layers (the paper's protocol; under
    `budget` both are the budget's at the search's depth); a widened retrain at its source's fixed C times its
    factor (a budget source's C is the budget's, cell by cell: pipeline.experiment.training_width)."""
    evaluation, width = tree["evaluation"], entry.get("width", "budget")
    channels, layers = entry.get("channels"), entry.get("layers")
    if evaluation["protocol"] == "paper" and width in ("fixed", "darts_network"):
        channels = evaluation["fixed_channels"]
        if width == "darts_network":
            layers = evaluation["darts_layers"]
    if entry.get("widen"):
        source = _evaluated_at(tree, all_experiments(tree)[entry["topology_from"]])["channels"]
        channels = widened(source, entry["widen"]) if source else None
    return {"channels": channels, "eval_layers": layers}


@dataclass(frozen=True)
class Settings:
    """One scale's resolved configuration, typed; built once by `load_settings`."""

    scale: str
    data: DataSettings
    search: SearchSettings  # the scale's search defaults (an experiment's own are experiment.search)
    train: TrainSettings
    train_imagenet: TrainSettings
    evaluation: EvaluationSettings
    evidence: EvidenceSettings
    workflow: WorkflowSettings
    nasbench201: NB201Tables
    experiments: Mapping[str, Experiment]  # experiments, then followups, in params.yaml's order
    # The validated params.yaml tree of this scale: what `stretchnas config` prints and what a job's
    # fingerprint hashes key by key (the keys a job reads, as params.yaml names them).
    tree: Mapping = field(repr=False)
    params_file: str = "params.yaml"

    @classmethod
    def from_tree(cls, tree: Mapping, params_file: str = "params.yaml") -> Settings:
        return cls(
            scale=tree["scale"],
            data=DataSettings.from_tree(tree["data"], "data"),
            search=SearchSettings.from_tree(tree["search"], "search"),
            train=TrainSettings.from_tree(tree["train"], "train"),
            train_imagenet=TrainSettings.from_tree(tree["train_imagenet"], "train_imagenet"),
            evaluation=EvaluationSettings.from_tree(tree["evaluation"], "evaluation"),
            evidence=EvidenceSettings.from_tree(tree["evidence"], "evidence"),
            workflow=WorkflowSettings.from_tree(tree["workflow"], "workflow"),
            nasbench201=NB201Tables.from_tree(tree.get("nasbench201") or {}, "nasbench201"),
            experiments={name: _experiment(tree, name) for name in all_experiments(tree)},
            tree=tree,
            params_file=params_file,
        )

    def experiment(self, name: str, procedures: tuple[str, ...] | None = None) -> Experiment:
        """Experiment `name`, refused clearly if unknown (naming the close ones) or of another procedure."""
        if name not in self.experiments:
            close = difflib.get_close_matches(name, list(self.experiments), n=5, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else "; `stretchnas experiments` lists them"
            raise ConfigError(f"{self.params_file}: no experiment {name!r}{hint}")
        experiment = self.experiments[name]
        if procedures is not None and experiment.procedure not in procedures:
            raise ConfigError(
                f"{self.params_file}: {experiment.section}.{name}: procedure is {experiment.procedure!r}, "
                f"this command runs {list(procedures)}"
            )
        return experiment

    def merged(self, overlay: Mapping) -> Settings:
        """The settings with `overlay` (params.yaml's keys) merged into this scale's tree and resolved again;
        an overlay on `search` reaches every experiment, as in params.yaml."""
        return Settings.from_tree(deep_merge(self.tree, overlay), self.params_file)

    def recipe(self, experiment: Experiment) -> TrainSettings:
        """The training recipe of an experiment's evaluation trainings."""
        return self.train_imagenet if experiment.imagenet else self.train

    def on_device(self, device: str | None) -> Settings:
        """The settings with every search and training computed on `device` (the CLI's --device)."""
        if device is None:
            return self
        return dataclasses.replace(
            self,
            search=self.search.on_device(device),
            train=self.train.on_device(device),
            train_imagenet=self.train_imagenet.on_device(device),
            experiments={name: e.on_device(device) for name, e in self.experiments.items()},
        )

    def describe_experiments(self) -> dict:
        """Every experiment with its defining fields and resolved search settings."""
        return {"scale": self.scale, "experiments": {name: e.describe() for name, e in self.experiments.items()}}


def search_from_file(params_path: str | os.PathLike, config_path: str | os.PathLike, scale: str) -> Experiment:
    """A one-off search: the `search:` block of `config_path` over params.yaml's defaults at `scale`.

    The file's search is the only experiment; the scale overlays keep their search
    defaults but not their experiment refinements.
    """
    extra = read_params(config_path)
    raw = read_params(params_path)
    name = Path(config_path).stem
    search = extra.get("search") or {}
    raw["experiments"] = {name: {"procedure": "search", "method": "search from file", "search": search}}
    raw["followups"] = {}
    for overlay in (raw.get("scales") or {}).values():
        for section in ("experiments", "followups"):
            (overlay or {}).pop(section, None)
    resolved = resolve_scale(raw, scale, origin=f"{params_path} + {config_path}")
    return _experiment(resolved, name)


def _schema_problems(instance, schema: dict, prefix: list) -> list[tuple[list, str]]:
    validator = SettingsValidator(schema)
    return [
        (prefix + _error_path(e), _describe(e))
        for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    ]


def _experiment_problems(settings: Mapping, schema: dict) -> list[tuple[list, str]]:
    """Each experiment's merged search settings must be complete, valid search settings."""
    search_schema = {"$ref": "#/$defs/search", "$defs": schema["$defs"]}
    problems = []
    for name, experiment in all_experiments(settings).items():
        if isinstance(experiment.get("search"), Mapping):
            path = [experiment_section(settings, name), name, "search"]
            problems += _schema_problems(experiment_search(settings, name), search_schema, path)
    return problems


def resolve_scale(raw: Mapping, scale: str, origin: str = "params.yaml") -> dict:
    """Merge one scale's overlay into the base and validate the result."""
    scales = raw.get("scales") or {}
    if scale not in SCALES:
        raise ConfigError(f"{origin}: scale: {scale!r} is not allowed; choose one of {list(SCALES)}")
    overlay = scales.get(scale) or {}
    if not isinstance(overlay, Mapping):
        raise ConfigError(f"{origin}: scales.{scale}: must be a mapping, got {overlay!r}")
    base = {k: v for k, v in raw.items() if k != "scales"}
    for section in ("experiments", "followups"):
        unknown = sorted(set(overlay.get(section) or {}) - set(base.get(section) or {}))
        if unknown:
            raise ConfigError(
                f"{origin}: scales.{scale}.{section}: {unknown} are not in {section}; an overlay can only refine them"
            )
    settings = deep_merge(base, overlay)
    settings["scale"] = scale

    schema = _schema()
    problems = _schema_problems(settings, schema, [])
    if not problems:
        problems = _experiment_problems(settings, schema)
    if not problems:
        problems = _semantic_errors(settings)
    if problems:
        lines = [f"{origin}: {_where(path, overlay, scale)}: {text}" for path, text in problems]
        raise ConfigError("\n".join(lines))
    return settings


def read_params(path: str | os.PathLike) -> dict:
    path = Path(path)
    raw = read_document(path, load_yaml, ConfigError, "YAML configuration file")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping at the top level")
    extra = set(raw.get("scales") or {}) - set(SCALES)
    if extra:
        raise ConfigError(f"{path}: scales: unknown scale(s) {sorted(extra)}; allowed are {list(SCALES)}")
    return raw


def load_settings(
    path: str | os.PathLike = "params.yaml",
    scale: str | None = None,
    environ: Mapping[str, str] | None = None,
    every_scale: bool = True,
) -> Settings:
    """The resolved settings for `scale` (default: the file's `scale` key), typed.

    Every scale is validated, so a typo in the paper overlay is caught on a
    laptop before anyone books a cluster; `every_scale=False` validates `scale`
    alone (a workflow's jobs, whose plan validated every scale: a third of a
    second a job). Environment overrides (the local data copy) are applied last
    and recorded under ``data.source_origin``.
    """
    raw = read_params(path)
    chosen = scale or raw.get("scale")
    if chosen not in SCALES:
        # the value's origin is blamed: the caller's (a command line's scale=...) or the file's `scale` key
        where = "the scale asked for" if scale else f"{path}: scale"
        raise ConfigError(f"{where}: {chosen!r} is not allowed; choose one of {list(SCALES)}")
    resolved = {name: resolve_scale(raw, name, str(path)) for name in (SCALES if every_scale else (chosen,))}
    settings = resolved[chosen]
    apply_source_override(settings, os.environ if environ is None else environ)
    return Settings.from_tree(settings, str(path))


IMAGENET_ENV_VAR = "STRETCHNAS_IMAGENET"


def apply_source_override(settings: dict, environ: Mapping[str, str]) -> None:
    """The local data copies the environment names, over params.yaml's (CIFAR, and ImageNet)."""
    data = settings["data"]
    for section, var, key in (
        (data, DATASETS[data["dataset"]].source_env_var, "data.source"),
        (data["imagenet"], IMAGENET_ENV_VAR, "data.imagenet.source"),
    ):
        if var and environ.get(var):
            section["source"] = environ[var]
            section["source_origin"] = f"environment variable {var}"
        else:
            section.setdefault("source_origin", f"params.yaml {key}")
    folder = environ.get(NB201_ENV_VAR)
    if folder:  # the folder of the two table files, by their published names
        subset = Path(folder) / NB201_SUBSET_FILE
        settings["nasbench201"] = {
            "table": str(Path(folder) / NB201_FULL_FILE),
            "table_200ep": str(subset) if subset.exists() else None,
        }

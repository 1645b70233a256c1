"""Typed settings: frozen dataclasses built once from the validated params.yaml tree.

The JSON schema (schema.yaml) stays the one source of defaults: the loader fills them in before these
objects are built, and tests/test_settings_types.py checks that every class has exactly its schema
object's keys, with the same defaults. A field whose params.yaml key is not a Python name (``lambda``)
says so in its metadata.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

# Where a run computes and how many processes feed it data are not what it computes.
PLACEMENT_KEYS = ("device", "workers")


def keyed(name: str, **kwargs) -> Any:
    """A field whose params.yaml key is `name`."""
    return field(metadata={"key": name}, **kwargs)


def optional_key(**kwargs) -> Any:
    """A field params.yaml may leave out (no schema default): None then, and absent again in `to_tree`."""
    return field(default=None, metadata={"omit_none": True}, **kwargs)


def loader_field(**kwargs) -> Any:
    """A field the loader sets (not params.yaml's): absent from the schema."""
    return field(default=None, metadata={"loader": True, "omit_none": True}, **kwargs)


def later_key(default: Any, **kwargs) -> Any:
    """A key added after runs were recorded: a run's identity leaves it out while it holds its default, so
    those runs (which computed exactly that) keep their identity."""
    return field(default=default, metadata={"identity_omits_default": True}, **kwargs)


def _key(f: dataclasses.Field) -> str:
    return f.metadata.get("key", f.name)


def _convert(hint: Any, value: Any, where: str) -> Any:
    """`value` of the tree as the type `hint` says: nested sections, tuples, mappings of sections."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if value is None:
        return None
    if origin in (types.UnionType, typing.Union):
        options = [a for a in args if a is not type(None)]
        return _convert(options[0], value, where) if len(options) == 1 else value
    if isinstance(hint, type) and issubclass(hint, Section):
        return hint.from_tree(value, where)
    if origin is tuple:
        return tuple(value)
    if origin is dict and args and isinstance(args[1], type) and issubclass(args[1], Section):
        return {k: args[1].from_tree(v, f"{where}.{k}") for k, v in value.items()}
    return value


def deep_merge(base: Mapping, overlay: Mapping) -> dict:
    """`overlay` merged into a copy of `base`, mapping by mapping."""
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _plain(value: Any) -> Any:
    if isinstance(value, Section):
        return value.to_tree()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Section:
    """A block of params.yaml as a frozen object."""

    schema_path: ClassVar[str | None] = None  # the JSON pointer of its schema object (tests check the two agree)

    @classmethod
    def from_tree(cls, tree: Mapping, where: str = "settings") -> typing.Self:
        if not isinstance(tree, Mapping):
            raise TypeError(f"{where}: expected a mapping, got {tree!r}")
        hints = typing.get_type_hints(cls)
        known = {_key(f) for f in dataclasses.fields(cls)}
        unknown = sorted(set(tree) - known)
        if unknown:
            raise TypeError(f"{where}: keys {unknown} are not settings of {cls.__name__}")
        values = {
            f.name: _convert(hints[f.name], tree[_key(f)], f"{where}.{_key(f)}")
            for f in dataclasses.fields(cls)
            if _key(f) in tree
        }
        return cls(**values)

    def to_tree(self) -> dict:
        """The block as params.yaml's keys and JSON's types (what run records and identities hold)."""
        tree = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            tree[_key(f)] = _plain(value)
        return tree

    def replace(self, **changes) -> typing.Self:
        return dataclasses.replace(self, **changes)

    def merged(self, overlay: Mapping) -> typing.Self:
        """This block with `overlay` (params.yaml's keys, nested blocks merged key by key) over it."""
        return type(self).from_tree(deep_merge(self.to_tree(), overlay), type(self).__name__)


@dataclass(frozen=True)
class RunSettings(Section):
    """The settings of a resumable run (a search or a training recipe): they have a device."""

    def identity(self) -> dict:
        """The settings as part of a run's identity: without where it computes (device, workers), so a run
        started on one device, or with one worker count, may resume on another."""
        left_out = {
            _key(f)
            for f in dataclasses.fields(self)
            if f.metadata.get("identity_omits_default") and getattr(self, f.name) == f.default
        }
        return {k: v for k, v in self.to_tree().items() if k not in PLACEMENT_KEYS and k not in left_out}

    def on_device(self, device: str | None) -> typing.Self:
        return self if device is None else self.replace(device=device)


# --------------------------------------------------------------------------- search


@dataclass(frozen=True)
class Topology(Section):
    schema_path = "$defs/search/properties/topology"
    mode: str
    k: int | None = optional_key()
    allow_empty_output: bool = False


@dataclass(frozen=True)
class WeightOptimizer(Section):
    """SGD of the supernet's weights."""

    schema_path = "$defs/search/properties/weights"
    lr: float
    lr_min: float
    momentum: float
    weight_decay: float
    grad_clip: float
    nesterov: bool = False


@dataclass(frozen=True)
class ArchOptimizer(Section):
    """Adam of alpha and beta."""

    schema_path = "$defs/search/properties/arch"
    lr: float
    betas: tuple[float, float]
    weight_decay: float
    init_std: float


@dataclass(frozen=True)
class Regularizer(Section):
    schema_path = "$defs/search/properties/regularizer"
    weight: float = keyed("lambda")
    outer_sum: str


@dataclass(frozen=True)
class MiLeNAS(Section):
    schema_path = "$defs/search/properties/milenas"
    weight: float = keyed("lambda")
    form: str


@dataclass(frozen=True)
class GDAS(Section):
    schema_path = "$defs/search/properties/gdas"
    tau_max: float = 10.0
    tau_min: float = 0.1


@dataclass(frozen=True)
class PCDARTS(Section):
    schema_path = "$defs/search/properties/pc_darts"
    partial_channels: int = 1
    edge_normalization: bool = False


@dataclass(frozen=True)
class BetaDecay(Section):
    schema_path = "$defs/search/properties/beta_decay"
    lambda_max: float = 0.0
    ramp_epochs: int = 100


@dataclass(frozen=True)
class SearchSettings(RunSettings):
    """One search's settings: the scale's defaults with an experiment's overrides merged in."""

    schema_path = "$defs/search"
    epochs: int
    max_steps_per_epoch: int | None
    batch_size: int
    channels: int
    layers: int
    intermediate_nodes: int
    op_space: str
    topology: Topology
    optimizer: str
    update_order: str
    split_scheme: str
    beta_data: str
    arch_batches: str
    weights: WeightOptimizer
    arch: ArchOptimizer
    regularizer: Regularizer
    milenas: MiLeNAS
    snapshot_epochs: tuple[int, ...]
    checkpoint_every_steps: int
    seeds: tuple[int, ...]
    threads: int | None
    deterministic: bool
    channels_last: bool
    recompute: str
    cells_per_stage: int = 5
    hessian: str = "finite_difference"
    max_loss: float = 1000.0
    device: str = "auto"
    sampling: str = "mixture"
    gdas: GDAS = GDAS()
    pc_darts: PCDARTS = PCDARTS()
    simplify: bool = False
    grad_clip_target: str = later_key("weights")
    kernel_norm: str = "l2"
    arch_warmup_epochs: int = 0
    beta_decay: BetaDecay = BetaDecay()
    workers: int = 0


# --------------------------------------------------------------------------- evaluation training


@dataclass(frozen=True)
class TrainSettings(RunSettings):
    """A training recipe: DARTS's train.py (`train`) or train_imagenet.py (`train_imagenet`)."""

    schema_path = "$defs/train"
    epochs: int
    max_steps_per_epoch: int | None
    batch_size: int
    lr: float
    lr_min: float
    schedule: str
    momentum: float
    weight_decay: float
    auxiliary_weight: float
    cutout: int
    drop_path: float
    grad_clip: float
    label_smoothing: float
    crop: int | None
    seeds: tuple[int, ...]
    checkpoint_every_steps: int
    threads: int | None
    deterministic: bool
    gamma: float = 0.97
    max_loss: float = 1000.0
    device: str = "auto"
    workers: int = 0
    # Evaluate every this many epochs and at the last (DARTS's train.py: every epoch). The weights and the
    # final epoch's result do not depend on it; the other epochs' rows leave the evaluation empty.
    eval_every: int = later_key(1)


@dataclass(frozen=True)
class RandomSettings(Section):
    """A random baseline: how many cells it samples and how it short-trains each."""

    schema_path = "$defs/random"
    samples: int
    train_epochs: int
    channels: int
    layers: int


@dataclass(frozen=True)
class EvaluationSettings(Section):
    schema_path = "properties/evaluation"
    target_params_m: float
    snapshots_for: tuple[str, ...]
    layers: tuple[int, ...] = ()
    layers_for: tuple[str, ...] = ()
    protocol: str = "paper"
    fixed_channels: int = 36
    darts_layers: int = 20


@dataclass(frozen=True)
class EvidenceSettings(Section):
    """When a run counts as evidence, and how a claim is decided (docs/method.md §11)."""

    schema_path = "properties/evidence"
    min_entropy_drop: float = 0.02
    settled_share: float = 0.25
    chance_confidence: float = 0.99
    confidence: float = 0.95
    power: float = 0.8
    accuracy_margin: float = 1.0


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class SplitScheme(Section):
    schema_path = "properties/data/properties/split_schemes/additionalProperties"
    train: float
    val_alpha: float
    val_beta: float

    def fractions(self) -> dict[str, float]:
        return {"train": self.train, "val_alpha": self.val_alpha, "val_beta": self.val_beta}


@dataclass(frozen=True)
class ImageNetData(Section):
    schema_path = "properties/data/properties/imagenet"
    source: str | None
    train_per_class: int | None
    test_per_class: int | None
    search_fraction: float
    source_origin: str | None = loader_field()


@dataclass(frozen=True)
class DataSettings(Section):
    schema_path = "properties/data"
    dataset: str
    source: str
    verify_checksums: bool
    seed: int
    train_per_class: int | None
    test_per_class: int | None
    image_size: int | None
    split_schemes: dict[str, SplitScheme]
    storage: str = "arrays"
    imagenet: ImageNetData | None = optional_key()
    source_origin: str | None = loader_field()


@dataclass(frozen=True)
class NB201Tables(Section):
    """NAS-Bench-201's table files (None: not configured)."""

    schema_path = "properties/nasbench201"
    table: str | None = None
    table_200ep: str | None = None


# --------------------------------------------------------------------------- workflow


@dataclass(frozen=True)
class RuleResources(Section):
    schema_path = "$defs/rule_resources"
    threads: int
    mem_mb: int
    runtime: int
    gpu: int


@dataclass(frozen=True)
class WorkflowSettings(Section):
    schema_path = "properties/workflow"
    resources: dict[str, RuleResources]
    # An experiment's searches (and NB201 lookups), one per seed, run as one job, one after another in one
    # process: each keeps its own folder, records and resume point (pipeline.jobs.Plan.units)
    seeds_in_one_job: bool = False


SECTIONS = (
    Topology,
    WeightOptimizer,
    ArchOptimizer,
    Regularizer,
    MiLeNAS,
    GDAS,
    PCDARTS,
    BetaDecay,
    SearchSettings,
    TrainSettings,
    RandomSettings,
    EvaluationSettings,
    EvidenceSettings,
    SplitScheme,
    ImageNetData,
    DataSettings,
    NB201Tables,
    RuleResources,
    WorkflowSettings,
)

"""params.yaml: the one configuration, a base plus one overlay per scale.

`load_settings` merges the selected scale's overlay into the base, validates
every scale's merged result against the JSON schema, and applies the checks a
schema cannot express. Errors name the file, the key path as written in the
file (``scales.mini.loader.batch_size``), the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCALES = ("smoke", "mini", "paper")

# Images per class in the official training / test sets; a subset larger than
# these is impossible and is refused before any work starts.
KNOWN_CLASS_SIZES = {"cifar10": (5000, 1000), "cifar100": (500, 100)}

# Where users point the pipeline at a local copy instead of downloading.
SOURCE_ENV_VARS = {"cifar10": "STRETCHNAS_CIFAR10", "cifar100": "STRETCHNAS_CIFAR100"}


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message says where and why."""


def _schema() -> dict:
    text = resources.files("stretchnas.schemas").joinpath("settings.schema.yaml").read_text()
    return yaml.safe_load(text)


def deep_merge(base: Mapping, overlay: Mapping) -> dict:
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


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
    if search["split"] not in data["splits"]:
        errors.append(
            (path + ["split"], f"{search['split']!r} is not a split scheme; data.splits has {sorted(data['splits'])}")
        )
    elif (
        search["arch_split"] == "separate"
        and not search["topology"]["mode"].startswith("darts")
        and data["splits"][search["split"]]["val_beta"] <= 0
    ):
        errors.append(
            (
                path + ["arch_split"],
                f"'separate' needs a D_val_beta, but split {search['split']!r} has val_beta 0; "
                "use a three-way split or arch_split: shared",
            )
        )
    late = [e for e in search["snapshot_epochs"] if e > search["epochs"]]
    if late:
        errors.append((path + ["snapshot_epochs"], f"{late} lie beyond epochs: {search['epochs']}"))
    if "k" in search["topology"] and search["topology"]["mode"] != "output_k":
        errors.append((path + ["topology", "k"], "only topology mode output_k takes k"))
    if search["topology"]["mode"] == "output_k" and "k" not in search["topology"]:
        errors.append((path + ["topology"], "mode output_k needs k (1..4)"))
    return errors


def _semantic_errors(settings: Mapping) -> list[tuple[list, str]]:
    errors = []
    data = settings["data"]
    for name, split in data["splits"].items():
        total = split["train"] + split["val_alpha"] + split["val_beta"]
        if total > 1 + 1e-9:
            errors.append((["data", "splits", name], f"fractions sum to {total:g}; they must sum to at most 1"))
    errors += _search_errors(settings["search"], data, ["search"])
    for name, experiment in all_experiments(settings).items():
        section = experiment_section(settings, name)
        errors += _search_errors(experiment_search(settings, name), data, [section, name, "search"])
        source = experiment.get("topology_from")
        if source is not None and settings["experiments"].get(source, {}).get("kind") != "search":
            errors.append(([section, name, "topology_from"], f"{source!r} is not a search experiment"))
        if (experiment["kind"] == "random_ops") != (section == "followups"):
            errors.append(([section, name, "kind"], "random_ops experiments, and only they, belong under followups"))
    overlap = set(settings["experiments"]) & set(settings.get("followups", {}))
    if overlap:
        errors.append((["followups"], f"names also used under experiments: {sorted(overlap)}"))
    sizes = KNOWN_CLASS_SIZES.get(data["dataset"])
    if sizes:
        for key, available in zip(("train_per_class", "test_per_class"), sizes):
            wanted = data[key]
            if wanted is not None and wanted > available:
                errors.append(
                    (
                        ["data", key],
                        f"{wanted} is more than the {available} images per class that {data['dataset']} has",
                    )
                )
    return errors


def all_experiments(settings: Mapping) -> dict:
    return {**settings["experiments"], **settings.get("followups", {})}


def experiment_section(settings: Mapping, name: str) -> str:
    return "followups" if name in settings.get("followups", {}) else "experiments"


def experiment_search(settings: Mapping, name: str) -> dict:
    """The search settings of one experiment: the scale's defaults with the experiment's overrides."""
    return deep_merge(settings["search"], all_experiments(settings)[name].get("search") or {})


def _schema_problems(instance, schema: dict, prefix: list) -> list[tuple[list, str]]:
    validator = jsonschema.Draft202012Validator(schema)
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
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
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
) -> dict:
    """The resolved settings for `scale` (default: the file's `scale` key).

    Every scale is validated, so a typo in the paper overlay is caught on a
    laptop before anyone books a cluster. Environment overrides (the local
    data copy) are applied last and recorded under ``data.source_origin``.
    """
    raw = read_params(path)
    chosen = scale or raw.get("scale")
    if chosen not in SCALES:
        raise ConfigError(f"{path}: scale: {chosen!r} is not allowed; choose one of {list(SCALES)}")
    resolved = {name: resolve_scale(raw, name, str(path)) for name in SCALES}
    settings = resolved[chosen]
    apply_source_override(settings, os.environ if environ is None else environ)
    return settings


def apply_source_override(settings: dict, environ: Mapping[str, str]) -> None:
    data = settings["data"]
    var = SOURCE_ENV_VARS.get(data["dataset"])
    if var and environ.get(var):
        data["source"] = environ[var]
        data["source_origin"] = f"environment variable {var}"
    else:
        data.setdefault("source_origin", "params.yaml data.source")

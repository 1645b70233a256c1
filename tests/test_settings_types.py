"""The typed settings agree with the JSON schema, key for key and default for default, and carry every
value of params.yaml through unchanged."""

import dataclasses
import json
from importlib import resources

import pytest
import yaml
from conftest import REPO

from stretchnas.settings.params import SCALES, ConfigError, load_settings
from stretchnas.settings.types import SECTIONS, SearchSettings, Topology

SCHEMA = yaml.safe_load(resources.files("stretchnas.settings").joinpath("schema.yaml").read_text())


def schema_object(pointer: str) -> dict:
    """The schema object at a JSON pointer, with its $ref followed."""
    node = SCHEMA
    for part in pointer.split("/"):
        node = node[part]
    while "$ref" in node:
        node = schema_object(node["$ref"].removeprefix("#/"))
    return node


def params_fields(cls) -> dict[str, dataclasses.Field]:
    """params.yaml key -> field, without what the loader adds."""
    return {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls) if not f.metadata.get("loader")}


def field_default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


@pytest.mark.parametrize("cls", SECTIONS, ids=lambda cls: cls.__name__)
def test_each_class_has_its_schema_objects_keys_and_defaults(cls):
    schema = schema_object(cls.schema_path)
    fields = params_fields(cls)
    assert set(fields) == set(schema["properties"])
    required = set(schema.get("required", ()))
    for key, f in fields.items():
        prop, default = schema["properties"][key], field_default(f)
        while "$ref" in prop and "default" not in prop:
            prop = schema_object(prop["$ref"].removeprefix("#/"))
        if "default" in prop:
            expected = prop["default"]
            # an object's default ({}) is its own properties' defaults
            if hasattr(default, "to_tree"):
                default = default.to_tree()
                expected = type(field_default(f)).from_tree(expected).to_tree()
            as_json = json.loads(json.dumps(default))  # tuples are the schema's arrays
            assert as_json == expected, f"{cls.__name__}.{f.name}: {default!r}, the schema says {expected!r}"
        elif key in required:
            assert default is dataclasses.MISSING, f"{cls.__name__}.{f.name}: the schema requires it, no default"
        else:  # optional without a schema default: absent means None, and stays absent
            assert default is None and f.metadata.get("omit_none"), f"{cls.__name__}.{f.name}"


@pytest.mark.parametrize("scale", SCALES)
def test_the_typed_settings_carry_every_value_of_the_tree(scale):
    settings = load_settings(REPO / "params.yaml", scale, environ={})
    tree = settings.tree
    for name in ("data", "search", "train", "train_imagenet", "evaluation", "evidence", "workflow"):
        assert getattr(settings, name).to_tree() == tree[name], name
    for name, experiment in settings.experiments.items():
        assert experiment.search.to_tree()["seeds"] == list(experiment.search.seeds), name
    assert list(settings.experiments) == [*tree["experiments"], *tree["followups"]]


def test_a_topology_without_k_stays_without_k():
    """Run identities hold the search settings: a field params.yaml leaves out must not appear as null."""
    assert Topology.from_tree({"mode": "darts"}).to_tree() == {"mode": "darts", "allow_empty_output": False}
    assert Topology.from_tree({"mode": "output_k", "k": 2}).k == 2


def test_sections_are_frozen_and_replace_returns_a_new_one():
    search = load_settings(REPO / "params.yaml", "smoke", environ={}).search
    with pytest.raises(dataclasses.FrozenInstanceError):
        search.layers = 3
    deeper = search.replace(layers=search.layers + 1)
    assert deeper.layers == search.layers + 1 and isinstance(deeper, SearchSettings)
    assert search.on_device("cpu").device == "cpu" and "device" not in search.identity()


def test_an_unknown_experiment_is_refused_with_the_close_names():
    settings = load_settings(REPO / "params.yaml", "smoke", environ={})
    with pytest.raises(ConfigError, match=r"no experiment 'milenas_sc'; did you mean milenas_sc_L8"):
        settings.experiment("milenas_sc")

"""Table 2's ImageNet jobs: the search subset and its splits, the ImageNet search supernet, the plan with and
without an ImageNet source, the Table 2 layout, and both jobs end to end on a tiny ImageFolder."""

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image
from test_report import read, stage_outputs, summary
from workflow_copies import BIN, generate_dvc_yaml, workflow_copy

from stretchnas.data.cache import PreparedDataError, open_prepared
from stretchnas.data.prepare import prepare_from_settings
from stretchnas.data.splits import PARTS, make_splits
from stretchnas.method.networks import build_search_network
from stretchnas.method.supernet import IMAGENET_SEARCH_CROP
from stretchnas.pipeline.jobs import NO_IMAGENET_SOURCE, Plan
from stretchnas.report.extract import build_tables
from stretchnas.report.layouts import table2
from stretchnas.settings.params import ConfigError, load_settings, resolve_scale

REPO = Path(__file__).resolve().parents[1]
IMAGENET_EXPERIMENTS = ("milenas_sc_imagenet", "milenas_sc_L12_imagenet")


def smoke(environ=None):
    return load_settings(REPO / "params.yaml", "smoke", environ=environ or {})


# ----------------------------------------------------------------------------- data


def test_the_search_subset_is_a_per_class_share_of_the_pool_cut_into_disjoint_balanced_parts():
    labels = np.repeat(np.arange(4), [100, 80, 60, 40])  # unequal classes, as ImageNet's
    thirds = {"train": 1 / 3, "val_alpha": 1 / 3, "val_beta": 1 / 3}
    splits = make_splits(labels, np.arange(4), {"three_way": thirds}, 0, None, None, search_fraction=0.3)
    scheme = splits["schemes"]["three_way"]
    assert len(splits["pool"]) == 280  # evaluation training still reads every image
    searched = [i for part in PARTS for i in scheme[part]]
    assert len(searched) == len(set(searched)) and set(searched) <= set(splits["pool"])
    # 30% of each class (30, 24, 18, 12), each share cut in three equal parts
    assert np.bincount(labels[searched]).tolist() == [30, 24, 18, 12]
    for part in PARTS:
        assert np.bincount(labels[scheme[part]]).tolist() == [10, 8, 6, 4]
    # without a fraction the schemes cut the whole pool, exactly as before
    whole = make_splits(labels, np.arange(4), {"three_way": thirds}, 0, None, None)
    assert sum(len(whole["schemes"]["three_way"][p]) for p in PARTS) == 280 and "search_fraction" not in whole


def test_imagenet_data_is_prepared_from_its_own_section_and_refused_for_cifar_runs(tmp_path, imagefolder):
    settings = smoke({"STRETCHNAS_IMAGENET": str(imagefolder)})
    settings = settings.merged(
        {"data": {"imagenet": {"train_per_class": 6, "test_per_class": 2, "search_fraction": 0.5}}}
    )
    prepare_from_settings(settings, tmp_path / "imagenet", imagenet=True)
    manifest = json.loads((tmp_path / "imagenet" / "manifest.json").read_text())
    assert manifest["storage"] == "files" and manifest["source"]["origin"] == "environment variable STRETCHNAS_IMAGENET"
    assert manifest["splits"]["search_fraction"] == 0.5
    assert manifest["splits"]["schemes"]["three_way"]["train"]["count"] == 3  # 3 classes x 6 x 0.5 / 3
    open_prepared(tmp_path / "imagenet", settings, imagenet=True)
    with pytest.raises(PreparedDataError, match=r"data.imagenet.source's images, not data.source's"):
        open_prepared(tmp_path / "imagenet", settings)
    settings = settings.merged({"data": {"imagenet": {"source": None}}})
    with pytest.raises(Exception, match=r"data.imagenet.source: not set"):
        prepare_from_settings(settings, tmp_path / "none", imagenet=True)


# ----------------------------------------------------------------------------- the ImageNet search supernet


def test_the_imagenet_search_stem_brings_224_to_28_before_the_first_cell():
    search = smoke().search.replace(layers=5, channels=4, channels_last=False)
    net = build_search_network(search, num_classes=7, imagenet=True)
    seen = {}
    net.cells[0].register_forward_pre_hook(lambda module, args: seen.update(s0=args[0].shape, s1=args[1].shape))
    x = torch.randn(2, 3, IMAGENET_SEARCH_CROP, IMAGENET_SEARCH_CROP)
    logits = net(x)
    assert logits.shape == (2, 7)
    assert seen["s0"][-2:] == (56, 56) and seen["s1"][-2:] == (28, 28)  # PC-DARTS's search stems
    assert seen["s0"][1] == seen["s1"][1] == 4  # C channels, not CIFAR's 3C
    logits.sum().backward()
    assert all(p.grad is not None for p in net.alpha_parameters())


# ----------------------------------------------------------------------------- the plan


def test_without_an_imagenet_source_the_imagenet_jobs_are_not_planned_and_say_why():
    plan = Plan(smoke())
    assert {name: plan.not_planned[name] for name in IMAGENET_EXPERIMENTS} == dict.fromkeys(
        IMAGENET_EXPERIMENTS, NO_IMAGENET_SOURCE
    )
    assert not [job for job in plan.jobs if "imagenet" in job.command]


def test_with_an_imagenet_source_both_jobs_read_the_imagenet_data_at_14_layers():
    settings = smoke({"STRETCHNAS_IMAGENET": "/data/imagenet"})
    plan = Plan(settings)
    assert not set(IMAGENET_EXPERIMENTS) & set(plan.not_planned)
    prepare = plan.job("prepare_imagenet", {"scale": "smoke"})
    assert prepare.outputs == ("data/prepared/smoke-imagenet",) and "--imagenet" in prepare.argv
    assert (
        "data.imagenet" in prepare.reads and "data.imagenet" not in plan.job("prepare_data", {"scale": "smoke"}).reads
    )
    trainings = [job for job in plan.jobs if job.rule == "evaluate" and job.wildcards["exp"] in IMAGENET_EXPERIMENTS]
    assert {job.wildcards["exp"] for job in trainings} == set(IMAGENET_EXPERIMENTS)
    for job in trainings:
        assert job.wildcards["layers"] == 14 and "train_imagenet" in job.reads
        assert job.inputs[0] == "data/prepared/smoke-imagenet"
    transfer = next(job for job in trainings if job.wildcards["exp"] == "milenas_sc_L12_imagenet")
    assert transfer.inputs[1] == "runs/smoke/milenas_sc_L12/seed2/search/genotype.json"
    search = plan.job("search", {"scale": "smoke", "exp": "milenas_sc_imagenet", "seed": 2})
    assert search.inputs == ("data/prepared/smoke-imagenet",)


def test_snakemake_and_dvc_define_the_same_imagenet_jobs(tmp_path, imagefolder):
    from test_workflow import dvc_outputs, snakemake_outputs

    root = workflow_copy(tmp_path, "smoke")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"]["imagenet"]["source"] = str(imagefolder)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    generate_dvc_yaml(root)
    plan = Plan(load_settings(root / "params.yaml", environ={}))
    assert snakemake_outputs(root) == dvc_outputs(root, "smoke") == set(plan.outputs())
    assert {"data/prepared/smoke-imagenet", "runs/smoke/summaries/milenas_sc_L12_imagenet.json"} <= set(plan.outputs())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e["search"].update(channels_last=True), r"milenas_sc_imagenet.search.channels_last: must be false"),
        (lambda e: e.pop("channels"), r"milenas_sc_imagenet.channels: an ImageNet experiment trains at a fixed C"),
    ],
)
def test_an_imagenet_experiment_is_refused_where_it_cannot_run(change, message):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    change(raw["experiments"]["milenas_sc_imagenet"])
    raw["scales"]["smoke"]["experiments"].pop("milenas_sc_imagenet")
    with pytest.raises(ConfigError, match=message):
        resolve_scale(raw, "smoke")


# ----------------------------------------------------------------------------- Table 2


def imagenet_summary(name, errors, top5, procedure="search"):
    s = summary(
        name,
        "MiLeNAS-SC",
        ["table2"],
        errors,
        mode="stretchable",
        layers=14,
        procedure=procedure,
        optimizer="milenas",
        params=5.3,
    )
    for result, value in zip(s["results"], top5):
        result["test_top5_error"] = value
    return {**s, "imagenet": True}


def test_table2_shows_top1_and_top5_over_searches_beside_the_papers_rows(tmp_path):
    runs = [
        imagenet_summary("milenas_sc_imagenet", {1: [24.0], 2: [26.0]}, [7.0, 9.0]),
        imagenet_summary("milenas_sc_L12_imagenet", {1: [25.0]}, [None], procedure="retrain"),
    ]
    table = table2(read(stage_outputs(tmp_path, runs))).set_index("Architecture")
    searched = table.loc["milenas_sc_imagenet"]
    assert searched["Paper row"] == "MiLeNAS-SC-L8 (ImageNet)"
    assert searched["Top-1 error (%)"] == "25.00 ± 1.41 (n=2 searches)"
    assert searched["Top-5 error (%)"] == "8.00 ± 1.41 (n=2 searches)"
    assert (searched["paper_top1_error"], searched["paper_top5_error"]) == (23.8, 7.2)
    transfer = table.loc["milenas_sc_L12_imagenet"]
    assert transfer["Paper row"] == "MiLeNAS-SC-L12 (CIFAR-10)" and transfer["Top-1 error (%)"] == "25.00 (n=1 search)"
    assert transfer["Top-5 error (%)"].startswith("not run (top-5 error is not measured")


def test_table2_without_an_imagenet_source_says_so_in_every_cell_of_ours(tmp_path):
    data_dir = stage_outputs(tmp_path, [summary("darts_2nd_L8", "DARTS (2nd order)", ["table1"], {1: [3.0]})])
    settings = smoke()
    not_planned = {name: (settings.experiments[name].fields(), NO_IMAGENET_SOURCE) for name in IMAGENET_EXPERIMENTS}
    build_tables([tmp_path / "runs" / "summaries"], data_dir, "smoke", not_planned)
    table = table2(read(data_dir))
    assert sorted(table["Paper row"]) == ["MiLeNAS-SC-L12 (CIFAR-10)", "MiLeNAS-SC-L8 (ImageNet)"]
    ours = table[["Top-1 error (%)", "Top-5 error (%)", "Params (M)", "FLOPs (M)"]]
    assert (ours == "not run: no ImageNet source configured (data.imagenet.source)").all().all()
    assert table.set_index("Architecture").loc["milenas_sc_imagenet", "Search cost"] == ours.iloc[0, 0]


# ----------------------------------------------------------------------------- end to end


def upscaled_cifar(cifar10_source: str, root: Path, per_split=(("train", 6), ("test", 2)), size=64) -> Path:
    """An ImageNet-style ImageFolder of CIFAR-10 images upscaled to `size` (JPEG), 10 classes."""
    wanted, counts = dict(per_split), {}
    with tarfile.open(cifar10_source) as archive:
        for member in archive:
            parts = Path(member.name).parts
            split = next((p for p in parts if p in wanted), None)
            if not member.isfile() or split is None:
                continue
            cls = parts[parts.index(split) + 1]
            if counts.get((split, cls), 0) == wanted[split]:
                continue
            counts[(split, cls)] = counts.get((split, cls), 0) + 1
            image = Image.open(io.BytesIO(archive.extractfile(member).read())).convert("RGB")
            out = root / split / cls / Path(member.name).name
            out.parent.mkdir(parents=True, exist_ok=True)
            image.resize((size, size), Image.BICUBIC).save(out, quality=90)
            if len(counts) == 20 and all(n == wanted[s] for (s, _), n in counts.items()):
                break
    return root


@pytest.mark.slow
def test_both_imagenet_jobs_run_end_to_end_and_fill_table2(tmp_path, cifar10_source, prepared_cifar10):
    imagenet = upscaled_cifar(cifar10_source, tmp_path / "imagenet")
    root = workflow_copy(tmp_path, "smoke")
    params = yaml.safe_load((root / "params.yaml").read_text())
    keep = {"milenas_sc_L12", "milenas_sc_imagenet", "milenas_sc_L12_imagenet"}
    for section in ("experiments", "followups"):
        params[section] = {k: v for k, v in params[section].items() if k in keep}
        for overlay in params["scales"].values():
            if overlay and section in overlay:
                overlay[section] = {k: v for k, v in overlay[section].items() if k in keep}
    params["experiments"]["milenas_sc_L12"]["tables"] = ["table1"]  # no Figure 4 depths: fewer trainings
    params["scales"]["smoke"]["search"].update(epochs=1, max_steps_per_epoch=1, snapshot_epochs=[1])
    params["data"]["imagenet"]["source"] = str(imagenet)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    generate_dvc_yaml(root)
    (root / "data" / "prepared").mkdir(parents=True)
    shutil.copytree(prepared_cifar10, root / "data" / "prepared" / "smoke")  # same data settings as smoke

    env = {**os.environ, "STRETCHNAS_IMAGENET": ""}  # params.yaml names the source
    result = subprocess.run(
        [BIN / "snakemake", "all", "--cores", "2", "--quiet"], cwd=root, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-4000:]

    table = pd.read_csv(root / "results" / "smoke" / "tables" / "table2.csv").set_index("Architecture")
    for experiment in ("milenas_sc_imagenet", "milenas_sc_L12_imagenet"):
        row = table.loc[experiment]
        assert row["Top-1 error (%)"].endswith("(n=1 search)") and row["Top-5 error (%)"].endswith("(n=1 search)")
        assert float(row["Params (M)"]) > 0 and float(row["FLOPs (M)"]) > 0
        trained = json.loads(
            next((root / "runs" / "smoke" / experiment).glob("seed2/final/L14/*/result.json")).read_text()
        )
        assert trained["layers"] == 14 and trained["num_classes"] == 10 and trained["test_images"] == 20
    run = json.loads((root / "runs/smoke/milenas_sc_imagenet/seed2/search/run.json").read_text())
    assert run["identity"]["imagenet"] is True

"""The workflow's job plan: one job per search, per training and per gather, linked by files."""

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from stretchnas.pipeline.dvcfile import params_keys
from stretchnas.pipeline.experiment import evaluate, run_experiment
from stretchnas.pipeline.jobs import Plan
from stretchnas.pipeline.summaries import GatherError, gather
from stretchnas.search.snapshots import INDEX_FILE
from stretchnas.settings.params import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[1]


def settings_for(tmp_path, scale="smoke", edit=None):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    if edit:
        edit(raw)
    path = tmp_path / f"params-{scale}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_settings(path, scale, environ={})


@pytest.mark.parametrize("scale", ["smoke", "mini", "paper"])
def test_every_input_is_the_data_or_an_earlier_jobs_output(tmp_path, scale):
    plan = Plan(settings_for(tmp_path, scale))
    written = set()
    for job in plan.jobs:
        for path in job.inputs:
            assert path in written, f"{job.name} reads {path} before any job writes it"
        assert not written & set(job.outputs), f"{job.name} writes a file another job writes"
        written |= set(job.outputs)
    names = [job.name for job in plan.jobs]
    assert len(names) == len(set(names))


def test_one_job_per_search_seed_training_and_experiment(tmp_path):
    def two_seeds(raw):
        raw["search"]["seeds"] = [2, 3]
        raw["scales"]["smoke"]["train"]["seeds"] = [0, 1]

    settings = settings_for(tmp_path, edit=two_seeds)
    plan = Plan(settings)
    # darts_2nd_L8 feeds table4 (its snapshots are trained too) and figure4 (its final cell at every depth)
    jobs = plan.experiment_jobs(settings.experiment("darts_2nd_L8"))
    snapshots = len(settings.search.snapshot_epochs)
    depths = sorted(set(settings.evaluation.layers) | {8})
    trainings = 2 * (len(depths) + snapshots) * 2  # search seeds x genotypes and depths x training seeds
    assert Counter(job.rule for job in jobs) == {"search": 2, "evaluate": trainings, "gather": 1}
    finals = {job.wildcards["layers"] for job in jobs if job.wildcards.get("label") == "final"}
    snapshot_depths = {job.wildcards["layers"] for job in jobs if job.wildcards.get("label", "final") != "final"}
    assert sorted(finals) == depths and snapshot_depths == {8}
    training = next(job for job in jobs if job.wildcards.get("label") == "epoch_002")
    assert training.inputs[-1] == f"runs/smoke/darts_2nd_L8/seed{training.wildcards['seed']}/search/{INDEX_FILE}"
    # every training feeds the gather; nothing else does
    gather_job = jobs[-1]
    assert set(gather_job.inputs) == {job.outputs[0] for job in jobs if job.rule == "evaluate"}
    # the tables read every summary and every search's records; the report reads the tables and the cells
    tables, report = plan.jobs[-2:]
    read = plan.summaries() + plan.search_records() + plan.snapshot_indexes() + plan.final_genotypes()
    assert set(read) == set(tables.inputs)
    assert set(report.inputs) == set(tables.outputs) | set(plan.searched_cells().values())
    assert "runs/smoke/darts_2nd_L8/seed3/search/genotype.json" == plan.searched_cells()["darts_2nd_L8-seed3"]
    assert "results/smoke/figures/cells/darts_2nd_L8-seed3.svg" in report.outputs
    assert "runs/smoke/darts_2nd_L8/seed3/search/genotype.json" in plan.final_genotypes()
    # one summary per experiment, but for ImageNet's and NAS-Bench-201's, where no source or table is named
    assert len(plan.summaries()) == len(settings.experiments) - len(plan.not_planned)
    nb201 = {name for name in settings.experiments if name.startswith("nb201_")}
    assert len(nb201) == 15 and set(plan.not_planned) == {"milenas_sc_imagenet", "milenas_sc_L12_imagenet", *nb201}


@pytest.mark.parametrize(("rule", "expected_source_seeds"), [("paired", [2, 3]), (3, [3, 3])])
def test_a_followup_starts_from_the_search_seed_its_rule_names(tmp_path, rule, expected_source_seeds):
    def edit(raw):
        raw["search"]["seeds"] = [2, 3]
        raw["followups"]["milenas_sc_L8_random_ops"]["topology_seed"] = rule

    plan = Plan(settings_for(tmp_path, edit=edit))
    experiment = plan.settings.experiment("milenas_sc_L8_random_ops")
    randoms = [job for job in plan.experiment_jobs(experiment) if job.rule == "random"]
    sources = [job.inputs[1] for job in randoms]
    assert sources == [f"runs/smoke/milenas_sc_L8/seed{s}/search/genotype.json" for s in expected_source_seeds]
    assert all(job.argv[job.argv.index("--topology-from") + 1] == job.inputs[1] for job in randoms)


def test_a_named_topology_seed_the_source_never_ran_is_refused(tmp_path):
    def edit(raw):
        raw["followups"]["milenas_sc_L8_random_ops"]["topology_seed"] = 7

    with pytest.raises(ConfigError, match=r"followups\.milenas_sc_L8_random_ops\.topology_seed.*\[7\]"):
        settings_for(tmp_path, edit=edit)


def fingerprints(plan):
    return {job.name: json.dumps(job.fingerprint, sort_keys=True) for job in plan.jobs}


def test_one_experiments_settings_change_the_fingerprints_of_its_jobs_alone(tmp_path):
    before = fingerprints(Plan(settings_for(tmp_path)))

    def edit(raw):
        raw["scales"]["smoke"].setdefault("experiments", {})["darts_wo_sc"] = {"search": {"max_loss": 999.0}}

    after = fingerprints(Plan(settings_for(tmp_path, edit=edit)))
    changed = {name for name in before if before[name] != after[name]}
    own = {name for name in before if "-darts_wo_sc-" in name or name.endswith("-darts_wo_sc")}
    # the C=48 row's width follows the row it widens, so its trainings read that experiment's entry too
    widened = {name for name in before if name.startswith("evaluate-darts_wo_sc_C48-")}
    assert own and widened and changed == own | widened


def test_a_new_seed_or_device_adds_jobs_and_reruns_none(tmp_path):
    before = fingerprints(Plan(settings_for(tmp_path)))

    def edit(raw):
        raw["scales"]["smoke"]["train"]["seeds"] = [0, 1]
        raw["search"]["device"] = "cpu"

    after = fingerprints(Plan(settings_for(tmp_path, edit=edit)))
    assert {name: after[name] for name in before} == before
    assert len(after) > len(before)


def test_dvc_params_list_the_overlay_keys_and_leave_out_device_and_seeds():
    raw = {
        "search": {"epochs": 50, "seeds": [2], "device": "cuda"},
        "scales": {"smoke": {"search": {"epochs": 2}, "experiments": {"x": {"search": {}}}}},
        "experiments": {"x": {"procedure": "search"}},
    }
    assert params_keys(raw, "smoke", ("search", "experiments.x")) == [
        "search.epochs",
        "scales.smoke.search.epochs",
        "experiments.x",
        "scales.smoke.experiments.x",
    ]
    assert params_keys(raw, "mini", ("search", "experiments.x")) == ["search.epochs", "experiments.x"]


def test_a_snapshot_without_a_derivable_cell_is_recorded_not_trained(tmp_path):
    settings = settings_for(tmp_path)
    search_dir = tmp_path / "search"
    search_dir.mkdir()
    (search_dir / INDEX_FILE).write_text(json.dumps({"epoch_001": {"epoch": 1, "not_derivable": "all dropped"}}))
    experiment = settings.experiment("darts_2nd_L8")
    result = evaluate(settings, experiment, search_dir / INDEX_FILE, "epoch_001", 0, tmp_path / "t", data=None)
    assert result["not_run"] == "epoch_001: all dropped"
    assert json.loads((tmp_path / "t" / "result.json").read_text()) == result
    assert not (tmp_path / "t" / "run.json").exists()  # no training started


def test_gather_names_a_missing_training_result(tmp_path):
    with pytest.raises(GatherError, match=r"train_seed0/result\.json"):
        settings = settings_for(tmp_path)
        gather(settings, settings.experiment("darts_1st_L8"), tmp_path / "s.json", root=str(tmp_path / "runs"))
    assert not (tmp_path / "s.json").exists()


def tiny_settings(settings):
    search = {
        "layers": 3,
        "channels": 4,
        "batch_size": 2,
        "epochs": 2,
        "max_steps_per_epoch": 2,
        "snapshot_epochs": [1, 2],
        "threads": 1,
        "checkpoint_every_steps": 2,
    }
    train = {"epochs": 1, "max_steps_per_epoch": 1, "batch_size": 2, "seeds": [0], "threads": 1}
    return settings.merged({"search": search, "train": train})


def test_an_experiment_in_one_process_writes_what_the_jobs_write(tmp_path, tiny_search_data):
    settings = tiny_settings(settings_for(tmp_path))
    root = str(tmp_path / "runs")
    experiment = settings.experiment("darts_wo_sc")
    summary = run_experiment(settings, experiment, tiny_search_data, root, quiet=True)
    plan = Plan(settings, root)
    for job in plan.experiment_jobs(experiment):
        assert all(Path(path).exists() for path in job.outputs), job.name
    assert sorted(r["genotype"] for r in summary["results"]) == ["epoch_001", "epoch_002", "final"]
    snapshot = next(r for r in summary["results"] if r["genotype"] == "epoch_001")
    assert snapshot["genotype_file"].endswith("search/genotype_epoch_001.json")
    # gathering again from the files gives the same summary
    assert gather(settings, experiment, tmp_path / "again.json", root) == summary


def test_step_counts_at_paper_scale_follow_the_darts_recipe(tmp_path):
    from stretchnas.pipeline.cost import plan_work

    work = plan_work(settings_for(tmp_path, "paper"), only=["darts_1st_L8", "milenas_sc_L8"])
    steps = {(w.experiment, w.kind): 0 for w in work}
    for w in work:
        steps[(w.experiment, w.kind)] += w.steps
    # 25,000 weight-training images (50/50 split) in batches of 64, 50 epochs, five searches; 50,000 images in
    # batches of 96, 600 epochs, one training per search; the three-way split leaves D_tr 16,667 images (1,667 of
    # 5,000 per class), three searches
    assert steps[("darts_1st_L8", "search")] == 5 * 50 * 391
    assert steps[("darts_1st_L8", "train")] == 5 * 600 * 521
    assert steps[("milenas_sc_L8", "search")] == 3 * 50 * -(-16670 // 64)


def test_the_paper_plan_runs_at_least_three_searches_for_every_experiment_a_claim_compares(tmp_path):
    from stretchnas.report import claims

    settings = settings_for(tmp_path, "paper")
    compared = {
        claims.TABLE1_SC,
        *claims.TABLE1_BASELINES,
        *claims.CELL_DARTS,
        *claims.CELL_SC,
        *claims.FIGURE4_SC,
        claims.STABLE,
        claims.UNSTABLE,
        claims.OUTPUT_EDGES,
        claims.INPUT_EDGES,
        claims.ARBITRARY,
        *claims.FIXED_K,
    }
    assert {
        name: len(settings.experiment(name).search.seeds)
        for name in compared
        if len(settings.experiment(name).search.seeds) < 3
    } == {}
    assert settings.train.seeds == (0,)  # the search is the unit: one training per searched cell


def test_an_estimate_times_each_distinct_step_once(tmp_path):
    from stretchnas.pipeline.cost import estimate

    settings = tiny_settings(settings_for(tmp_path))
    result = estimate(settings, "cpu", warmup=0, repeats=1, threads=1, only=["darts_wo_sc"])
    assert [c["config"][0] for c in result["step_seconds"]] == ["search", "train"]
    row = result["experiments"]["darts_wo_sc"]
    assert row["search_steps"] == 2 * 2 and row["train_steps"] == 3 * 1 and row["jobs"] == 4
    assert result["device"] == "cpu" and all(c["s_per_step"] > 0 for c in result["step_seconds"])


def test_an_estimate_prices_a_plan_with_an_earlier_estimates_step_times_and_times_nothing(tmp_path):
    from stretchnas.pipeline.cost import estimate, plan_work

    settings = settings_for(tmp_path, "paper")
    work = plan_work(settings, only=["darts_wo_sc"])
    seconds = {"search": 2.0, "train": 0.5}
    measured = {
        "device": "cuda:0",
        "device_name": "a GPU elsewhere",
        "cuda": "12.8",
        "cudnn": 90100,
        "threads": None,
        "step_seconds": [{"config": list(w.label), "s_per_step": seconds[w.kind]} for w in work],
    }
    result = estimate(settings, "cpu", only=["darts_wo_sc"], measured=measured)
    assert result["timed_here"] == [] and result["device_name"] == "a GPU elsewhere"
    row = result["experiments"]["darts_wo_sc"]
    # five searches, each trained at its final cell and four snapshots
    assert row["search_steps"] == 5 * 50 * -(-16670 // 64) and row["train_steps"] == 5 * 5 * 600 * 521
    assert row["hours"] == round((row["search_steps"] * 2.0 + row["train_steps"] * 0.5) / 3600, 2)


def test_a_retrain_trains_its_sources_final_cells_and_searches_nothing(tmp_path):
    plan = Plan(settings_for(tmp_path))
    jobs = plan.experiment_jobs(plan.settings.experiment("darts_wo_sc_C48"))
    assert Counter(job.rule for job in jobs) == {"evaluate": 1, "gather": 1}
    assert jobs[0].inputs[-1] == "runs/smoke/darts_wo_sc/seed2/search/genotype.json"
    assert "followups.darts_wo_sc_C48" in jobs[0].reads


@pytest.mark.parametrize("scale, fixed, wide", [("paper", 36, 48), ("mini", 12, 16), ("smoke", 4, 6)])
def test_the_c48_row_is_the_row_it_widens_times_48_over_36_at_every_scale(tmp_path, scale, fixed, wide):
    settings = settings_for(tmp_path, scale)
    assert settings.experiment("darts_wo_sc").channels == fixed
    assert settings.experiment("darts_wo_sc_C48").channels == wide > fixed


def test_the_paper_protocol_trains_published_rows_in_dartss_network_and_the_budget_switch_undoes_it(tmp_path):
    paper = settings_for(tmp_path, "paper")
    for name in ("darts_1st_L8", "milenas_L8", "darts_2nd_L8_L20"):
        assert (paper.experiment(name).layers, paper.experiment(name).channels) == (20, 36)
    assert (paper.experiment("darts_2nd_L8").layers, paper.experiment("darts_2nd_L8").channels) == (8, None)

    def budget(raw):
        raw["evaluation"]["protocol"] = "budget"

    switched = settings_for(tmp_path, "paper", edit=budget)
    for name in ("darts_1st_L8", "milenas_L8", "darts_2nd_L8_L20", "darts_wo_sc", "darts_wo_sc_C48"):
        assert (switched.experiment(name).layers, switched.experiment(name).channels) == (8, None), name
    # ImageNet's trainings keep DARTS's ImageNet network under either protocol
    assert switched.experiment("milenas_sc_L12_imagenet").channels == 48


def test_a_widened_budget_row_trains_at_its_sources_budget_width_for_the_same_cell(tmp_path):
    from stretchnas.evaluation.training import choose_channels
    from stretchnas.method.published_genotypes import get_genotype
    from stretchnas.pipeline.experiment import training_width

    def budget(raw):
        raw["evaluation"]["protocol"] = "budget"

    settings = settings_for(tmp_path, "paper", edit=budget)
    genotype = get_genotype("DARTS_V2")
    source, _ = choose_channels(genotype, 8, settings.evaluation.target_params_m, False, 10)
    channels, choice = training_width(settings, settings.experiment("darts_wo_sc_C48"), genotype, 8, 10)
    assert choice is None and channels == 2 * round(source * 48 / 36 / 2) and channels > source


@pytest.mark.parametrize(
    "edit",
    [
        lambda raw: raw["experiments"]["edas_L8"].update(tables=["comparison"]),
        lambda raw: raw["evaluation"].update(layers_for=["figure9"]),
    ],
)
def test_a_table_tag_that_names_no_table_is_refused(tmp_path, edit):
    with pytest.raises(ConfigError, match=r"no such table; the tables are \['table1'"):
        settings_for(tmp_path, edit=edit)


def test_a_table_rewritten_in_place_reruns_the_lookups_alone(tmp_path):
    table = tmp_path / "nb201.csv"
    table.write_text("arch,cifar10\n")

    def edit(raw):
        raw["nasbench201"]["table"] = str(table)

    before = fingerprints(Plan(settings_for(tmp_path, edit=edit)))
    assert any(name.startswith("lookup") for name in before)
    table.write_text("arch,cifar10\n|skip_connect~0|,1.0\n")  # same path, new content
    after = fingerprints(Plan(settings_for(tmp_path, edit=edit)))
    changed = {name for name in before if before[name] != after[name]}
    assert changed and all(name.startswith("lookup") for name in changed), changed
    assert {name for name in before if name.startswith("lookup")} == changed


def test_a_plan_from_runs_keeps_what_reads_them_and_needs_each_run_output(tmp_path, monkeypatch):
    def with_table(raw):
        raw["nasbench201"]["table"] = str(tmp_path / "table.csv")

    full = Plan(settings_for(tmp_path, "smoke", with_table))
    assert any(job.rule == "lookup" for job in full.jobs)
    settings = settings_for(tmp_path, "smoke")  # no NB201 table: the committed lookups stand in for it
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"missing from this checkout:\n  runs/smoke/(.|\n)*snakemake --cores all"):
        Plan(settings, from_runs=True)
    # every file that the full plan's searches, samplings, trainings and lookups write
    runs = [p for job in full.jobs if job.rule in ("search", "random", "evaluate", "lookup") for p in job.outputs]
    for path in runs:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("{}")
    plan = Plan(settings, from_runs=True)
    kept = [job for job in full.jobs if job.rule in ("published_cells", "gather", "tables", "report")]
    assert [(job.name, job.argv, job.inputs, job.outputs) for job in plan.jobs] == [
        (job.name, job.argv, job.inputs, job.outputs) for job in kept
    ]
    assert set(plan.run_outputs()) <= set(runs)
    (tmp_path / runs[0]).unlink()
    with pytest.raises(ConfigError, match=f"needs 1 run output.*\n  {runs[0]}\n"):
        Plan(settings, from_runs=True)


def test_the_data_source_is_identified_by_its_bytes_never_by_its_path(tmp_path, monkeypatch):
    import hashlib

    monkeypatch.chdir(tmp_path)  # the plan's prepared folder, data/prepared/smoke, is relative
    copy = tmp_path / "cifar.tar.gz"
    copy.write_bytes(b"CIFAR-10, as some bytes")
    (tmp_path / "link.tar.gz").symlink_to(copy)
    (tmp_path / "moved").mkdir()
    (tmp_path / "moved" / "cifar.tar.gz").write_bytes(copy.read_bytes())
    (tmp_path / "other.tar.gz").write_bytes(b"another data set")

    def plan(source: str | None) -> dict:
        environ = {"STRETCHNAS_CIFAR10": source} if source else {}
        return fingerprints(Plan(load_settings(REPO / "params.yaml", "smoke", environ=environ)))

    first = plan(str(copy))
    assert plan(str(tmp_path / "link.tar.gz")) == first and plan(str(tmp_path / "moved" / "cifar.tar.gz")) == first
    assert plan(str(tmp_path / "other.tar.gz")) != first
    # the variable unset: the source is `download`, which the preparation of that copy stands for once made
    assert plan(None) != first
    prepared = tmp_path / "data" / "prepared" / "smoke"
    prepared.mkdir(parents=True)
    (prepared / "manifest.json").write_text(
        json.dumps({"source": {"sha256": hashlib.sha256(copy.read_bytes()).hexdigest()}})
    )
    assert plan(None) == first

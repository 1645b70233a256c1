"""Per-experiment cost from the workflow's job records (job.tsv, Snakemake's benchmark files)."""

import pytest

from stretchnas.pipeline.job_records import JobRecordError, costs, read_records

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def record(root, folder, seconds, rss):
    path = root / folder / "job.tsv"
    path.parent.mkdir(parents=True)
    path.write_text(HEADER + f"{seconds}\t0:00:00\t{rss}\t0\t0\t0\t0\t0\t0\t0\n")


def test_costs_sum_each_experiments_searches_and_trainings(tmp_path):
    record(tmp_path, "a/seed2/search", 120.0, 900.0)
    record(tmp_path, "a/seed2/final/L8/train_seed0", 60.0, 500.0)
    record(tmp_path, "a/seed2/epoch_004/L8/train_seed0", 30.0, 700.0)
    record(tmp_path, "b/seed0/random", 90.0, 400.0)
    record(tmp_path, "b/seed0/final/L8/train_seed0", 6.0, 300.0)
    record(tmp_path, "a/seed2/search/superseded/20260101T000000", 999.0, 9999.0)  # an earlier run's, not counted
    record(tmp_path, "c/search_seeds", 12.0, 950.0)  # one job for all of c's seeds (workflow.seeds_in_one_job)
    table = costs(read_records(tmp_path)).set_index("experiment")
    assert table.loc["a"].to_dict() == {
        "jobs": 3,
        "search_min": 2.0,
        "training_min": 1.5,
        "total_min": 3.5,
        "peak_rss_mb": 900.0,
    }
    assert table.loc["b"].to_dict() == {
        "jobs": 2,
        "search_min": 1.5,
        "training_min": 0.1,
        "total_min": 1.6,
        "peak_rss_mb": 400.0,
    }
    assert table.loc["c"].to_dict() == {
        "jobs": 1,
        "search_min": 0.2,
        "training_min": 0.0,
        "total_min": 0.2,
        "peak_rss_mb": 950.0,
    }
    assert table.loc["all", "jobs"] == 6 and table.loc["all", "total_min"] == 5.3
    assert list(table.index) == ["a", "b", "c", "all"]  # costliest first


def test_a_damaged_record_is_named(tmp_path):
    (tmp_path / "a/seed2/search").mkdir(parents=True)
    (tmp_path / "a/seed2/search/job.tsv").write_text("nothing useful\n")
    with pytest.raises(JobRecordError, match=r"a/seed2/search/job\.tsv: not a job record"):
        read_records(tmp_path)
    with pytest.raises(JobRecordError, match="no job.tsv found"):
        read_records(tmp_path / "empty")

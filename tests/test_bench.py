"""The benchmark harness at a tiny size: it runs and reports what it promises (not its numbers)."""

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from stretchnas.measurement import bench as bench_module

STRETCHNAS = Path(sys.executable).parent / "stretchnas"
TINY = ["--channels", "4", "--batch", "4", "--layers", "5", "--steps", "1", "--warmup", "1"]


def bench(*args):
    return subprocess.run([STRETCHNAS, "bench", *args], capture_output=True, text=True, cwd=REPO)


def compared(*args) -> list[dict]:
    """`stretchnas bench ARGS`, which must succeed: its JSON lines, one per configuration."""
    result = bench(*args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_compare_prints_one_line_per_configuration_with_ratios_against_the_first():
    lines = compared(*TINY, "--compare", "impl=reference", "impl=stretchnas,recompute=cells")
    assert [line["impl"] for line in lines] == ["reference", "stretchnas"]
    assert [line["variant"] for line in lines] == ["impl=reference", "impl=stretchnas,recompute=cells"]
    for line in lines:
        for key in (
            "s_median",
            "s_min",
            "s_max",
            "images_per_s",
            "peak_rss_mib",
            "params",
            "gflop_per_step",
            "gflops_achieved",
        ):
            assert line[key] > 0, key
        assert line["s_min"] <= line["s_median"] <= line["s_max"]
    assert lines[0]["params"] == lines[1]["params"]  # the same supernet, two implementations
    assert lines[1]["time_ratio"] == round(lines[1]["s_median"] / lines[0]["s_median"], 3)
    assert lines[1]["memory_ratio"] == round(lines[1]["peak_rss_mib"] / lines[0]["peak_rss_mib"], 3)


def test_compare_measures_each_variant_in_a_fresh_process():
    # Two identical variants: only a new process per variant gives them different pids.
    variant = "topology=stretchable,beta_data=shared"
    lines = compared(*TINY, "--compare", variant, variant)
    assert [line["beta_data"] for line in lines] == ["shared", "shared"]
    assert lines[0]["pid"] != lines[1]["pid"]


@pytest.mark.parametrize(
    ("variant", "named"),
    [
        ("chanels=8", "chanels"),
        ("channels=eight", "channels"),
        ("recompute=sometimes", "recompute"),
        ("impl=stretchnas,beta_data=both", "beta_data"),
        ("channels_last=2", "channels_last"),
        ("layers", "layers"),
    ],
)
def test_compare_refuses_a_bad_key_or_value_before_measuring_anything(variant, named):
    result = bench(*TINY, "--compare", "impl=stretchnas", variant)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr and variant in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert result.stdout == ""  # the valid first variant did not run either


def test_peak_mode_reports_dense_convolution_gflops():
    result = bench("--peak", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["gflops"] > 0


@pytest.mark.parametrize(
    "args",
    [
        ["--impl", "reference", "--simplify"],
        ["--space", "nb201", "--impl", "reference", "--topology", "stretchable"],
        ["--impl", "reference", "--optimizer", "edas"],
        ["--members", "2", "--impl", "reference"],
        ["--members", "2", "--members-form", "vmap", "--topology", "stretchable", "--channels-last", "0"],
        ["--members", "2", "--members-form", "vmap"],  # channels_last: vmap runs NCHW only
    ],
)
def test_unimplemented_configurations_are_refused_clearly(args):
    result = bench(*TINY, *args)
    assert result.returncode == 2 and "not implemented" in result.stderr


def test_every_config_field_is_an_option_and_a_compare_key():
    parser = argparse.ArgumentParser()
    bench_module.add_arguments(parser)
    options = {action.dest for action in parser._actions}
    names = [field.name for field in dataclasses.fields(bench_module.BenchConfig)]
    assert set(names) <= options
    assert bench_module.config_from_args(parser.parse_args([])) == bench_module.BenchConfig()
    args = parser.parse_args(["--beta-data", "shared", "--channels-last", "0", "--simplify"])
    assert bench_module.config_from_args(args) == bench_module.BenchConfig(
        beta_data="shared", channels_last=False, simplify=True
    )
    varied = bench_module.vary(bench_module.BenchConfig(), "channels=8,channels_last=0,simplify=1")
    assert (varied.channels, varied.channels_last, varied.simplify) == (8, False, True)


def test_the_device_is_chosen_and_reported():
    result = bench(*TINY, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["device"] == "cpu" and line["cuda"] is None and line["peak_gpu_mib"] is None
    bad = bench(*TINY, "--device", "tpu")
    assert bad.returncode == 2 and "'tpu' is not auto, cpu, cuda or cuda:N" in bad.stderr


def test_the_nb201_supernet_is_benchmarked_against_the_straightforward_one_with_ratios():
    rows = compared(
        *TINY,
        "--space",
        "nb201",
        "--cells-per-stage",
        "1",
        "--compare",
        "impl=reference",
        "impl=stretchnas",
        "topology=stretchable,optimizer=darts_2nd",
    )
    assert [r["variant"] for r in rows] == [
        "impl=reference",
        "impl=stretchnas",
        "topology=stretchable,optimizer=darts_2nd",
    ]
    assert rows[0]["params"] == rows[1]["params"]  # the same NB201 supernet, two implementations
    assert rows[2]["time_ratio"] > 0 and rows[0]["params"] < 5e4  # one cell per stage at C=4


def test_profile_counts_kernels_and_the_forward_input_gradient_switch_changes_them():
    """Batch 8 at 32x32 puts the first cells' dilated convolutions above the size threshold of
    stretchnas.kernels.depthwise."""
    sized = ["--channels", "4", "--batch", "8", "--layers", "5", "--steps", "1", "--warmup", "0"]
    on, off, small = compared(
        *sized, "--compare", "profile=1", "profile=1,forward_input_grad=0", "profile=1,image_size=16"
    )
    for line in (on, off, small):
        assert line["kernel_calls"]["total"] == sum(v for k, v in line["kernel_calls"].items() if k != "total") > 0
        assert set(line["time_shares"]) >= {"convolution", "batch_norm", "elementwise", "unattributed"}
    # each covered convolution's backward: a forward convolution and a weight-only backward instead of one call
    assert on["kernel_calls"]["convolution"] > off["kernel_calls"]["convolution"]
    assert small["image_size"] == 16 and small["gflop_per_step"] < on["gflop_per_step"] / 3  # a quarter the pixels


def test_several_members_are_measured_in_turn_and_vmapped_with_images_counted_for_all():
    rows = compared(
        *TINY,
        "--space",
        "nb201",
        "--cells-per-stage",
        "1",
        "--channels-last",
        "0",
        "--compare",
        "members=1",
        "members=2",
        "members=2,members_form=vmap",
    )
    assert [r["members"] for r in rows] == [1, 2, 2] and rows[2]["members_form"] == "vmap"
    for row in rows:  # images per second count every member's batch
        assert row["images_per_s"] == pytest.approx(row["batch"] * row["members"] / row["s_median"], rel=0.01)
    assert rows[1]["gflop_per_step"] == pytest.approx(2 * rows[0]["gflop_per_step"], rel=1e-3)

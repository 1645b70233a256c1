"""The benchmark harness at a tiny size: it runs and reports what it promises (not its numbers)."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO

STRETCHNAS = Path(sys.executable).parent / "stretchnas"
TINY = ["--channels", "4", "--batch", "4", "--layers", "5", "--steps", "1", "--warmup", "1"]


def bench(*args):
    return subprocess.run([STRETCHNAS, "bench", *args], capture_output=True, text=True, cwd=REPO)


def test_compare_prints_one_line_per_configuration_with_ratios_against_the_first():
    result = bench(*TINY, "--compare", "impl=reference", "impl=stretchnas,recompute=cells")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["impl"] for line in lines] == ["reference", "stretchnas"]
    for line in lines:
        for key in ("s_median", "s_min", "s_max", "images_per_s", "peak_rss_mib", "params", "gflop_per_step",
                    "gflops_achieved"):  # fmt: skip
            assert line[key] > 0, key
        assert line["s_min"] <= line["s_median"] <= line["s_max"]
    assert lines[0]["params"] == lines[1]["params"]  # the same supernet, two implementations
    assert lines[1]["time_ratio"] == round(lines[1]["s_median"] / lines[0]["s_median"], 3)


def test_peak_mode_reports_dense_convolution_gflops():
    result = bench("--peak", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["gflops"] > 0


def test_unimplemented_configurations_are_refused_clearly():
    result = bench(*TINY, "--simplify")
    assert result.returncode != 0 and "not implemented" in result.stderr

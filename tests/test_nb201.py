"""NAS-Bench-201: arch strings both ways, and table lookup against the benchmark's own rows."""

import os
from pathlib import Path

import pandas as pd
import pytest

from stretchnas.nb201.arch import EDGES, OPS, ArchError, NB201Genotype
from stretchnas.nb201.lookup import FULL_FILE, SUBSET_FILE, TableLookupError, Tables, lookup

BEST_12EP = "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


@pytest.fixture(scope="module")
def tables() -> Tables:
    """The NB201 tables named by STRETCHNAS_NB201 (CI: the offline copies beside the clone)."""
    folder = os.environ.get("STRETCHNAS_NB201")
    if not folder:
        if os.environ.get("CI"):
            pytest.fail("CI must set STRETCHNAS_NB201 so the NAS-Bench-201 lookup tests run")
        pytest.skip("STRETCHNAS_NB201 is not set: NAS-Bench-201 lookup tests skipped")
    return Tables.from_settings({}, {"STRETCHNAS_NB201": folder})


# ----------------------------------------------------------------------------- arch strings


def test_an_arch_string_round_trips_edge_by_edge_in_the_benchmarks_order():
    genotype = NB201Genotype.from_arch_str(BEST_12EP)
    assert EDGES == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    assert genotype.ops == ("nor_conv_3x3", "nor_conv_1x1", "nor_conv_3x3", "skip_connect", "none", "nor_conv_3x3")
    assert genotype.arch_str == BEST_12EP
    assert NB201Genotype.from_dict(genotype.to_dict()) == genotype
    # every one of the 5^6 cells renders to a string that parses back to itself
    import itertools

    for ops in itertools.islice(itertools.product(OPS, repeat=6), 0, 15625, 97):
        assert NB201Genotype.from_arch_str(NB201Genotype(ops).arch_str).ops == ops


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("|skip_connect~0|+|skip_connect~0|skip_connect~1|", r"expected 3 node groups"),
        ("|skip_connect~0|+|skip_connect~0|+|skip_connect~0|skip_connect~1|skip_connect~2|", r"node 2 needs 2 inputs"),
        (BEST_12EP.replace("none~1", "none~2"), r"node 3's input 1 must read op~1"),
        (BEST_12EP.replace("nor_conv_1x1", "sep_conv_3x3"), r"unknown NB201 op\(s\) \['sep_conv_3x3'\]"),
    ],
)
def test_a_malformed_arch_string_is_refused_saying_what_is_wrong(text, message):
    with pytest.raises(ArchError, match=message):
        NB201Genotype.from_arch_str(text)


def test_depth_counts_ops_on_the_longest_path_that_reaches_the_output():
    assert NB201Genotype.from_arch_str(ALL_SKIP).depth() == 3
    assert NB201Genotype.from_arch_str(BEST_12EP).depth() == 3  # 0 -> 1 -> 2 -> 3
    no_path = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|"
    assert NB201Genotype.from_arch_str(no_path).depth() == 0


# ----------------------------------------------------------------------------- lookup


def test_lookup_gives_the_tables_own_values_and_names_its_source(tables):
    full = pd.read_csv(tables.full).set_index("cellstr")
    best = full["cifar10-test"].idxmax()
    assert best == BEST_12EP  # the 12-epoch table's best CIFAR-10 test accuracy, 89.16
    result = lookup(BEST_12EP, tables)
    assert result["cifar10_test_acc"] == 89.16 and result["nb201_index"] == 5374
    assert result["cifar100_test_acc"] == pytest.approx(60.44) and result["imagenet16_120_test_acc"] == pytest.approx(
        36.866667, abs=1e-4
    )
    assert (
        result["source"] == FULL_FILE
        and "12 epochs" in result["schedule"]
        and "not the 200-epoch" in result["schedule"]
    )
    skip = lookup(ALL_SKIP, tables)
    assert (skip["cifar10_test_acc"], skip["cifar10_val_acc"]) == (36.84, pytest.approx(33.944))
    # the 200-epoch subset: a value where the cell is in it, a note where it is not
    subset = pd.read_csv(tables.subset).set_index("arch_str")
    listed = subset.index[0]
    assert lookup(listed, tables)["cifar10_val_acc_200ep"] == pytest.approx(subset.loc[listed, "cifar10_val_acc_200ep"])
    assert skip["cifar10_val_acc_200ep"] is None and SUBSET_FILE in skip["note_200ep"]


def test_a_cell_missing_from_the_table_is_an_error_naming_it(tmp_path, tables):
    full = pd.read_csv(tables.full)
    short = tmp_path / "short.csv"
    full[full["cellstr"] != ALL_SKIP].to_csv(short, index=False)
    with pytest.raises(TableLookupError, match=r"short.csv: no cell '\|skip_connect~0\|"):
        lookup(ALL_SKIP, Tables(short))
    (tmp_path / "wrong.csv").write_text("a,b\n1,2\n")
    with pytest.raises(TableLookupError, match=r"wrong.csv: not a NAS-Bench-201 table .*missing columns"):
        lookup(ALL_SKIP, Tables(tmp_path / "wrong.csv"))
    with pytest.raises(TableLookupError, match=r"nowhere.csv: no such NAS-Bench-201 table"):
        lookup(ALL_SKIP, Tables(Path(tmp_path / "nowhere.csv")))

"""`stretchnas published-table`: params and FLOPs of the published cells at DARTS's evaluation size, measured
beside the numbers the papers print for them (docs/method.md §8)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stretchnas.evaluation.measure import measure
from stretchnas.method.published_genotypes import DARTS_FORMAT, get_genotype
from stretchnas.report.paper_numbers import MILENAS_FIG5_SMALL, TABLE1_ROW_OF_GENOTYPE, table1_columns
from stretchnas.runs.atomic import atomic_write_text


def published_cells_table(layers: int = 20, C: int = 36) -> pd.DataFrame:
    """Params and FLOPs of the published cells at DARTS's evaluation size, beside the papers' values."""
    rows = []
    for name in sorted(DARTS_FORMAT):
        if name in TABLE1_ROW_OF_GENOTYPE:
            paper = table1_columns(TABLE1_ROW_OF_GENOTYPE[name])
        elif name == "MILENAS_2_50":
            label, (error, params, flops) = MILENAS_FIG5_SMALL
            paper = {"paper_row": label, "paper_error": error, "paper_params_m": params, "paper_flops_m": flops}
        else:
            continue  # ImageNet cells are measured by `stretchnas measure --imagenet`
        m = measure(get_genotype(name), layers, C)
        rows.append(
            {
                "genotype": name,
                "layers": layers,
                "channels": C,
                "params_m": m["params_m"],
                "conv_linear_macs_m": m["conv_linear_macs_m"],
                "thop_style_flops_m": m["thop_style_flops_m"],
                "depth_normal": m["depth"]["normal"],
                "width_normal": m["width"]["normal"],
                **paper,
            }
        )
    return pd.DataFrame(rows)


def write_published_cells_table(path: str | Path, layers: int = 20, C: int = 36) -> pd.DataFrame:
    """The table, written as CSV (`stretchnas published-table`)."""
    table = published_cells_table(layers, C)
    atomic_write_text(path, table.to_csv(index=False))
    return table

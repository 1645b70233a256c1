"""Tables regenerated from code and runs (pandas), written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stretchnas.atomic import atomic_write_text
from stretchnas.measure import measure
from stretchnas.paper_values import TABLE1_PUBLISHED
from stretchnas.published import get_genotype


def published_cells_table(layers: int = 20, C: int = 36) -> pd.DataFrame:
    """Params and FLOPs of the published cells at DARTS's evaluation size, beside the paper's values."""
    rows = []
    for name, paper in TABLE1_PUBLISHED.items():
        m = measure(get_genotype(name), layers, C)
        rows.append(
            {
                "genotype": name,
                "paper_row": paper["row"],
                "layers": layers,
                "channels": C,
                "params_m": m["params_m"],
                "paper_params_m": paper["paper_params_m"],
                "conv_linear_macs_m": m["flops_m"],
                "thop_style_flops_m": m["thop_style_m"],
                "paper_flops_m": paper["paper_flops_m"],
                "depth_normal": m["depth"]["normal"],
                "width_normal": m["width"]["normal"],
                "paper_test_error": paper["paper_error"],
            }
        )
    return pd.DataFrame(rows)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    atomic_write_text(path, frame.to_csv(index=False))

"""The paper's artefacts this pipeline produces: the one list the tables and report stages, the workflow
and the experiment registry's `tables` tags all read."""

# The tidy data the tables stage writes into results/<scale>/data/, as CSV: the report's only inputs
# besides the genotype files it draws. Each table and figure in the paper's layout is built from these by
# the report alone.
TABLE_FILES = (
    "experiments",
    "evaluations",
    "not_run",
    "evidence",
    "searches",
    "search_dynamics",
    "cells",
    "stability",
    "nb201",
    "nb201_snapshots",
    "provenance",
)

# What the report writes into results/<scale>/: each table in the paper's layout as Markdown, CSV and
# LaTeX (tables/), each figure as PNG and SVG (figures/), one drawing per searched cell (figures/cells/,
# Figure 3), and README.md.
REPORT_TABLES = (
    "table1",
    "table2",
    "table3",
    "table4",
    "table5",
    "figure4",
    "figure5",
    "cells",
    "stability",
    "costs",
    "nb201",
    "nb201_stability",
)
REPORT_TABLE_FORMATS = ("md", "csv", "tex")
REPORT_FIGURES = ("figure1", "figure4", "figure5", "search_dynamics", "stability", "nb201", "nb201_progress")
REPORT_FIGURE_FORMATS = ("png", "svg")
CELL_DRAWING_FORMATS = ("svg", "png")
# What DVC reads (`dvc metrics show`, `dvc plots show`; dvc.yaml's metrics and plots): report.dvc_views
DVC_VIEWS = ("metrics.json", "plots/test_error_by_depth.csv", "plots/test_error_by_outputs.csv")


def report_outputs(out: str, cell_names: list[str]) -> list[str]:
    """Every file the report writes under `out` (results/<scale>), in a fixed order."""
    files = [f"{out}/tables/{name}.{fmt}" for name in REPORT_TABLES for fmt in REPORT_TABLE_FORMATS]
    files += [f"{out}/figures/{name}.{fmt}" for name in REPORT_FIGURES for fmt in REPORT_FIGURE_FORMATS]
    files += [f"{out}/figures/cells/{name}.{fmt}" for name in cell_names for fmt in CELL_DRAWING_FORMATS]
    files += [f"{out}/{name}" for name in DVC_VIEWS]
    return files + [f"{out}/README.md"]


# What an experiment of params.yaml may name in `tables`: the artefacts built from its evaluations.
# table2 holds the ImageNet trainings (top-1 and top-5); figure4 holds Figures 1 and 4 (final cells evaluated
# at evaluation.layers); nb201 the NAS-Bench-201 searches, scored by table lookup.
TABLE_TAGS = ("table1", "table2", "table3", "table4", "table5", "figure4", "figure5", "nb201")

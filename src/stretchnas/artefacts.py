"""The paper's artefacts this pipeline produces: the one list the tables stage, the workflow and the
experiment registry's `tables` tags all read."""

# Every CSV (and PNG) the tables stage writes into results/<scale>/.
TABLE_FILES = (
    "evaluations",
    "table1",
    "table3",
    "table4",
    "table5",
    "figure4",
    "figure5",
    "search_dynamics",
    "cells",
    "stability",
)
FIGURE_FILES = ("figure4", "figure5", "search_dynamics")

# What an experiment of params.yaml may name in `tables`: the artefacts built from its evaluations.
# figure4 holds Figures 1 and 4 (final cells evaluated at evaluation.layers).
TABLE_TAGS = ("table1", "table3", "table4", "table5", "figure4", "figure5")

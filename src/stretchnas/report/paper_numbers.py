"""Numbers as the papers print them, each once. Every table that shows one labels its column `paper_*`.

Unless noted: "Stretchable Cells Help DARTS Search Better" (arXiv 2011.09300), CIFAR-10,
test error (%) as printed, params (M), FLOPs (M, thop-style; docs/method.md §8).
"""

from __future__ import annotations

# Table 1, by row label: (test error, params, FLOPs, search cost in GPU-days on one GTX 1080 Ti);
# None where the paper prints none.
TABLE1 = {
    "DARTS (1st order) + cutout": ("3.00±0.14", 3.3, 519, 0.4),
    "DARTS (2nd order) + cutout": ("2.76±0.09", 3.3, 547, 4.0),
    "PC-DARTS + cutout": ("2.57±0.07", 3.6, 576, 0.1),
    "MiLeNAS + cutout": ("2.51±0.11", 3.87, 629, 0.3),
    "Random search baseline + cutout": ("3.29±0.15", 3.2, None, 4),
    "MiLeNAS-SC-L8 (random operation) + cutout": ("2.77±0.08", 3.3, 576, 4),
    "DARTS w/o SC + cutout": ("2.72±0.12", 1.8, 337, 0.6),
    "DARTS w/o SC + cutout (C=48)": ("2.48±0.09", 3.2, 578, 0.6),
    "MiLeNAS-SC-L8 + cutout": ("2.58±0.11", 3.5, 599, 1.1),
    "MiLeNAS-SC-L12 + cutout": ("2.36±0.07", 3.5, 622, 1.5),
    "MiLeNAS-SC-L16 + cutout": ("2.51±0.09", 3.57, 577, 2.2),
}

# How each Table 1 row's "mean ± std" was obtained, where its source says (docs/reference-settings.md §8).
TABLE1_PROTOCOL = {
    "DARTS (1st order) + cutout": "best of 4 searches, trained several times (DARTS paper)",
    "DARTS (2nd order) + cutout": "best of 4 searches, trained 10 times (DARTS paper and README)",
    "PC-DARTS + cutout": "best searched cell, trained 4 times (PC-DARTS authors)",
    # our darts_wo_sc is trained at the evaluation parameter budget like every other row, so its params
    # match the C=48 row's, not this one's
    "DARTS w/o SC + cutout": "not stated; trained at C=36 without matching parameters (1.8M)",
}
PROTOCOL_NOT_STATED = "not stated by the paper"

# Table 2 (ImageNet), the rows this pipeline reproduces: (top-1, top-5, params, FLOPs, GPU-days).
TABLE2 = {
    "MiLeNAS-SC-L12 (CIFAR-10)": (24.2, 7.5, 5.3, 582, 1.5),
    "MiLeNAS-SC-L8 (ImageNet)": (23.8, 7.2, 5.6, 612, 6.2),
}
# The Table 2 row each experiment of params.yaml reproduces.
TABLE2_ROW_OF_EXPERIMENT = {
    "milenas_sc_L12_imagenet": "MiLeNAS-SC-L12 (CIFAR-10)",
    "milenas_sc_imagenet": "MiLeNAS-SC-L8 (ImageNet)",
}

# Table 4: per method, three searches (runs), each {epoch: (test error, params)}.
TABLE4 = {
    "DARTS (2nd order)": (
        {20: (2.93, 3.6), 30: (2.88, 3.2), 40: (3.02, 2.5), 50: (2.90, 2.3)},
        {20: (3.05, 3.1), 30: (3.16, 2.3), 40: (3.00, 2.3), 50: (3.41, 2.1)},
        {20: (2.83, 4.1), 30: (2.82, 3.0), 40: (2.87, 2.6), 50: (2.87, 2.6)},
    ),
    "DARTS w/o SC": (
        {20: (2.89, 2.0), 30: (2.94, 1.9), 40: (2.81, 1.8), 50: (2.71, 1.8)},
        {20: (2.91, 2.0), 30: (2.89, 1.8), 40: (2.83, 1.8), 50: (2.69, 1.9)},
        {20: (2.85, 2.1), 30: (2.81, 1.9), 40: (2.73, 1.8), 50: (2.75, 1.9)},
    ),
}

# The MiLeNAS paper's smaller cell (its Fig. 5, right): not in the SC paper's Table 1.
MILENAS_FIG5_SMALL = ("MiLeNAS paper Fig. 5 (2.86M cell)", ("2.50", 2.86, None))

# The Table 1 row each published genotype is (DARTS 1st order is the V1 cell, 2nd order V2).
TABLE1_ROW_OF_GENOTYPE = {
    "DARTS_V1": "DARTS (1st order) + cutout",
    "DARTS_V2": "DARTS (2nd order) + cutout",
    "PC_DARTS_cifar": "PC-DARTS + cutout",
    "MILENAS_2_34": "MiLeNAS + cutout",
}

# The Table 1 row each experiment of params.yaml reproduces.
TABLE1_ROW_OF_EXPERIMENT = {
    "darts_1st_L8": "DARTS (1st order) + cutout",
    "darts_2nd_L8_L20": "DARTS (2nd order) + cutout",
    "milenas_L8": "MiLeNAS + cutout",
    "random_search": "Random search baseline + cutout",
    "milenas_sc_L8_random_ops": "MiLeNAS-SC-L8 (random operation) + cutout",
    "darts_wo_sc": "DARTS w/o SC + cutout",
    "darts_wo_sc_C48": "DARTS w/o SC + cutout (C=48)",
    "milenas_sc_L8": "MiLeNAS-SC-L8 + cutout",
    "milenas_sc_L12": "MiLeNAS-SC-L12 + cutout",
    "milenas_sc_L16": "MiLeNAS-SC-L16 + cutout",
}

# Table 3: (method, nodes counted as the paper does: inputs and output included) -> {layers: (error, params)}
TABLE3 = {
    ("DARTS (2nd order)", 7): {8: (3.06, 3.3), 12: (2.86, 3.4), 16: (2.97, 3.3), 20: (2.79, 3.5)},
    ("DARTS (2nd order)", 9): {8: (3.12, 3.5), 12: (3.03, 3.4), 16: (2.85, 3.5), 20: (2.96, 3.4)},
    ("MiLeNAS-SC", 9): {8: (2.58, 3.5), 12: (2.36, 3.5), 16: (2.51, 3.6), 20: (2.54, 3.5)},
}

# Table 5: (method, which side of a node its edges are selected on) -> test error
TABLE5 = {
    ("DARTS (2nd order)", "input"): 2.76,
    ("DARTS (2nd order)", "output"): 2.82,
    ("DARTS w/o SC", "input"): 3.08,
    ("DARTS w/o SC", "output"): 2.72,
}


NOT_IN_THE_PAPER = "not in the paper"


def table1_columns(row: str | None) -> dict:
    """The paper_* columns of one Table 1 row (a row the paper does not have says so, its numbers None)."""
    error, params, flops, cost = TABLE1.get(row, (None,) * 4) if row else (None,) * 4
    return {
        "paper_row": row or NOT_IN_THE_PAPER,
        "paper_error": error,
        "paper_params_m": params,
        "paper_flops_m": flops,
        "paper_search_cost_gpu_days": cost,
    }

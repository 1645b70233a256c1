# ruff: noqa: E501
"""Numbers as the papers print them. Every table that shows one labels its column `paper_*`."""

# "Stretchable Cells Help DARTS Search Better", Table 1 (CIFAR-10; params M, FLOPs M) for the
# published cells this package ships. DARTS 1st order is the V1 cell, 2nd order the V2 cell.
TABLE1_PUBLISHED = {
    "DARTS_V1": {"row": "DARTS (1st order) + cutout", "paper_params_m": 3.3, "paper_flops_m": 519, "paper_error": "3.00±0.14"},
    "DARTS_V2": {"row": "DARTS (2nd order) + cutout", "paper_params_m": 3.3, "paper_flops_m": 547, "paper_error": "2.76±0.09"},
    "PC_DARTS_cifar": {"row": "PC-DARTS + cutout", "paper_params_m": 3.6, "paper_flops_m": 576, "paper_error": "2.57±0.07"},
    "MILENAS_2_34": {"row": "MiLeNAS + cutout", "paper_params_m": 3.87, "paper_flops_m": 629, "paper_error": "2.51±0.11"},
    "MILENAS_2_50": {"row": "MiLeNAS (paper Fig. 5, 2.86M cell)", "paper_params_m": 2.86, "paper_flops_m": None, "paper_error": "2.50"},
}  # fmt: skip

# The same paper's rows for the experiments this pipeline runs (params.yaml names).
# Table 1: test error (%), params (M), FLOPs (M).
TABLE1_EXPERIMENTS = {
    "darts_1st_L8": {
        "paper_row": "DARTS (1st order) + cutout",
        "paper_error": "3.00±0.14",
        "paper_params_m": 3.3,
        "paper_flops_m": 519,
    },
    "darts_2nd_L8": {
        "paper_row": "DARTS (2nd order) + cutout",
        "paper_error": "2.76±0.09",
        "paper_params_m": 3.3,
        "paper_flops_m": 547,
    },
    "milenas_L8": {
        "paper_row": "MiLeNAS + cutout",
        "paper_error": "2.51±0.11",
        "paper_params_m": 3.87,
        "paper_flops_m": 629,
    },
    "random_search": {
        "paper_row": "Random search baseline + cutout",
        "paper_error": "3.29±0.15",
        "paper_params_m": 3.2,
        "paper_flops_m": None,
    },
    "milenas_sc_L8_random_ops": {
        "paper_row": "MiLeNAS-SC-L8 (random operation) + cutout",
        "paper_error": "2.77±0.08",
        "paper_params_m": 3.3,
        "paper_flops_m": 576,
    },
    "darts_wo_sc": {
        "paper_row": "DARTS w/o SC + cutout",
        "paper_error": "2.72±0.12",
        "paper_params_m": 1.8,
        "paper_flops_m": 337,
    },
    "milenas_sc_L8": {
        "paper_row": "MiLeNAS-SC-L8 + cutout",
        "paper_error": "2.58±0.11",
        "paper_params_m": 3.5,
        "paper_flops_m": 599,
    },
    "milenas_sc_L12": {
        "paper_row": "MiLeNAS-SC-L12 + cutout",
        "paper_error": "2.36±0.07",
        "paper_params_m": 3.5,
        "paper_flops_m": 622,
    },
    "milenas_sc_L16": {
        "paper_row": "MiLeNAS-SC-L16 + cutout",
        "paper_error": "2.51±0.09",
        "paper_params_m": 3.57,
        "paper_flops_m": 577,
    },
}

# Table 3: (method, nodes incl. inputs and output) -> {layers: (test error %, params M)}
TABLE3 = {
    ("DARTS (2nd order)", 7): {8: (3.06, 3.3), 12: (2.86, 3.4), 16: (2.97, 3.3), 20: (2.79, 3.5)},
    ("DARTS (2nd order)", 9): {8: (3.12, 3.5), 12: (3.03, 3.4), 16: (2.85, 3.5), 20: (2.96, 3.4)},
    ("MiLeNAS-SC", 9): {8: (2.58, 3.5), 12: (2.36, 3.5), 16: (2.51, 3.6), 20: (2.54, 3.5)},
}

# Table 4: method -> one list per run of (test error %, params M) at search epochs 20, 30, 40, 50
TABLE4 = {
    "DARTS (2nd order)": [
        [(2.93, 3.6), (2.88, 3.2), (3.02, 2.5), (2.90, 2.3)],
        [(3.05, 3.1), (3.16, 2.3), (3.00, 2.3), (3.41, 2.1)],
        [(2.83, 4.1), (2.82, 3.0), (2.87, 2.6), (2.87, 2.6)],
    ],
    "DARTS w/o SC": [
        [(2.89, 2.0), (2.94, 1.9), (2.81, 1.8), (2.71, 1.8)],
        [(2.91, 2.0), (2.89, 1.8), (2.83, 1.8), (2.69, 1.9)],
        [(2.85, 2.1), (2.81, 1.9), (2.73, 1.8), (2.75, 1.9)],
    ],
}

# Table 5: test error (%) with input-edge vs output-edge selection
TABLE5 = {
    "darts_2nd_L8": {"method": "DARTS (2nd order)", "perspective": "input", "paper_error": 2.76},
    "darts_2nd_output_L8": {"method": "DARTS (2nd order)", "perspective": "output", "paper_error": 2.82},
    "darts_wo_sc_input": {"method": "DARTS w/o SC", "perspective": "input", "paper_error": 3.08},
    "darts_wo_sc": {"method": "DARTS w/o SC", "perspective": "output", "paper_error": 2.72},
}

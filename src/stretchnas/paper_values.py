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

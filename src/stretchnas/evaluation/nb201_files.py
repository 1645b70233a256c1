"""NAS-Bench-201: its cell (arch strings), table lookup, and search space.

The table files, by the names they have in the folder $STRETCHNAS_NB201 names (light: the settings read it).
"""

ENV_VAR = "STRETCHNAS_NB201"
FULL_FILE = "nb201_hp12_minibench.csv"
SUBSET_FILE = "nb201_200ep_val_subset725_naslib.csv"
# The data sets the tables score a cell on, in their order
DATASETS = ("cifar10", "cifar100", "imagenet16_120")

"""NAS-Bench-201: its cell (arch strings), table lookup, and search space.

The table files, by the names they have in the folder $STRETCHNAS_NB201 names (light: the settings read it).
"""

ENV_VAR = "STRETCHNAS_NB201"
FULL_FILE = "nb201_hp12_minibench.csv"
SUBSET_FILE = "nb201_200ep_val_subset725_naslib.csv"
# SHA-256 of the published files by these names (data/PROVENANCE.md's sources): a copy cut or edited is refused
KNOWN_SHA256 = {
    FULL_FILE: "dd03f9c5ffc3ad6fcc7abeae23c0844d840f0a65d243b01926dcd83ca5c93999",
    SUBSET_FILE: "373835c003e8fb21697c2a44c79ec9ff0ff5c85afe742b8400d1c9b8efbbd7a4",
}
CELLS = 15625  # 5 ops on each of 6 edges
# The data sets the tables score a cell on, in their order
DATASETS = ("cifar10", "cifar100", "imagenet16_120")

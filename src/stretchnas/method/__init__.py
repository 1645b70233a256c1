"""The method: search spaces, cells and supernets, topology variables, the regulariser, simplification,
derivation, genotypes and evaluation networks (docs/method.md §1-4, §6-7)."""

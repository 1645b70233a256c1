"""NAS-Bench-201: its cell (arch strings), table lookup, and search space."""

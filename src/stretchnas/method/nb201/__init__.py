"""The NAS-Bench-201 space: its cell and arch strings, and its search supernet (xautodl's TinyNetworkDarts)."""

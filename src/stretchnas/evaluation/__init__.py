"""Evaluating a searched cell: training it from scratch, counting its parameters and FLOPs, or looking it up in
NAS-Bench-201's tables."""

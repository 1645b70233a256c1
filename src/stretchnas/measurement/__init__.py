"""Measuring the search step: benchmarks, kernel-call profiles, and the straightforward reference implementations
they compare against."""

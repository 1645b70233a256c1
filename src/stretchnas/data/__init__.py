"""Data stage: read a source, prepare a memory-mappable cache, split it, load it."""

"""Supernet search: architecture gradients, optimisers by name, the resumable run loop."""

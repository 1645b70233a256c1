"""The report: runs to tidy data (`extract`), tables in the paper's layout (`layouts`), figures, cell drawings
and the claims page.

This package imports nothing, so its light modules (`artefacts`) load without matplotlib or torch."""

"""The report: runs to tidy data (extract), tables in the paper's layout, figures, cell drawings and the claims page.

Submodules are imported by name; this package imports nothing, so the light ones (artefacts) load without matplotlib or torch."""

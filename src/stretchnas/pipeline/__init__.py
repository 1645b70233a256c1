"""The workflow: its jobs (listed once for Snakemake and DVC), dvc.yaml, one experiment in one process, summaries
and costs."""

rule published_cells:
    output:
        "results/published_cells.csv",
    shell:
        "stretchnas published-table --layers 20 --channels 36 --out {output}"

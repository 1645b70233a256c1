rule published_cells:
    output:
        "results/published_cells.csv",
    log:
        "logs/published_cells.log",
    threads: RESOURCES["published_cells"]["threads"]
    resources:
        mem_mb=RESOURCES["published_cells"]["mem_mb"],
        runtime=RESOURCES["published_cells"]["runtime"],
        gpu=RESOURCES["published_cells"]["gpu"],
    conda:
        "../../environment.yml"
    shell:
        "stretchnas published-table --layers 20 --channels 36 --out {output} > {log} 2>&1"


rule tables:
    input:
        expand("runs/{{scale}}/summaries/{exp}.json", exp=EXPERIMENTS + sorted(FOLLOWUPS)),
    output:
        expand("results/{{scale}}/{table}.csv", table=TABLES),
        expand("results/{{scale}}/{figure}.png", figure=FIGURES),
    log:
        "logs/{scale}/tables.log",
    threads: RESOURCES["tables"]["threads"]
    resources:
        mem_mb=RESOURCES["tables"]["mem_mb"],
        runtime=RESOURCES["tables"]["runtime"],
        gpu=RESOURCES["tables"]["gpu"],
    conda:
        "../../environment.yml"
    shell:
        "stretchnas tables --scale {wildcards.scale} --summaries {input} --out results/{wildcards.scale} > {log} 2>&1"

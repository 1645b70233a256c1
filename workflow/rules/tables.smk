rule published_cells:
    output:
        "results/published_cells.csv",
    conda:
        "../../environment.yml"
    shell:
        "stretchnas published-table --layers 20 --channels 36 --out {output}"


rule tables:
    input:
        expand("runs/{{scale}}/summaries/{exp}.json", exp=EXPERIMENTS + sorted(FOLLOWUPS)),
    output:
        expand("results/{{scale}}/{table}.csv", table=TABLES),
        expand("results/{{scale}}/{figure}.png", figure=FIGURES),
    conda:
        "../../environment.yml"
    shell:
        "stretchnas tables --scale {wildcards.scale} --summaries {input} --out results/{wildcards.scale}"

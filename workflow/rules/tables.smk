rule published_cells:
    output:
        OUTPUTS["published_cells"],
    params:
        command=PLAN.job("published_cells", {}).command,
    log:
        LOGS["published_cells"],
    threads: RESOURCES["published_cells"]["threads"]
    resources:
        mem_mb=RESOURCES["published_cells"]["mem_mb"],
        runtime=RESOURCES["published_cells"]["runtime"],
        gpu=RESOURCES["published_cells"]["gpu"],
    conda:
        "../../environment.yml"
    shell:
        "{params.command} > {log} 2>&1"


# Declares every file the tables read: each experiment's summary and each search's metrics.csv.
rule tables:
    input:
        inputs_of("tables"),
    output:
        OUTPUTS["tables"],
    params:
        command=command_of("tables"),
    log:
        LOGS["tables"],
    threads: RESOURCES["tables"]["threads"]
    resources:
        mem_mb=RESOURCES["tables"]["mem_mb"],
        runtime=RESOURCES["tables"]["runtime"],
        gpu=RESOURCES["tables"]["gpu"],
    conda:
        "../../environment.yml"
    shell:
        "{params.command} > {log} 2>&1"

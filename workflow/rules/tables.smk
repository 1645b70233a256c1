rule published_cells:
    output:
        OUTPUTS["published_cells"],
    params:
        command=PLAN.job("published_cells", {}).command,
    log:
        LOGS["published_cells"],
    threads: RESOURCES["published_cells"]["threads"]
    resources:
        **resources_of("published_cells"),
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
        **resources_of("tables"),
    conda:
        "../../environment.yml"
    shell:
        "{params.command} > {log} 2>&1"

rule published_cells:
    output:
        OUTPUTS["published_cells"],
    params:
        command=PLAN.job("published_cells", {}).command,
    log:
        LOGS["published_cells"],
    threads: RESOURCES["published_cells"].threads
    resources:
        **resources_of("published_cells"),
    conda:
        "../../environment.yml"
    shell:
        LOGGED_COMMAND


# Declares every file the tables read: each experiment's summary, each search's metrics.csv and snapshot
# index, and every final genotype.
rule tables:
    input:
        inputs_of("tables"),
    output:
        OUTPUTS["tables"],
    params:
        command=command_of("tables"),
    log:
        LOGS["tables"],
    threads: RESOURCES["tables"].threads
    resources:
        **resources_of("tables"),
    conda:
        "../../environment.yml"
    shell:
        LOGGED_COMMAND


# The report reads only the tables' data and the searched genotypes it draws (Figure 3).
rule report:
    input:
        PLAN.job("report", {"scale": SCALE}).inputs,
    output:
        PLAN.job("report", {"scale": SCALE}).outputs,
    params:
        command=PLAN.job("report", {"scale": SCALE}).command,
    log:
        LOGS["report"].format(scale=SCALE),
    threads: RESOURCES["report"].threads
    resources:
        **resources_of("report"),
    conda:
        "../../environment.yml"
    shell:
        LOGGED_COMMAND

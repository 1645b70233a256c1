# One job per evaluation training (experiment, search seed, genotype label, training seed), reading the
# genotype file its search wrote; then one gather per experiment, writing the summary the tables read.
rule evaluate:
    input:
        inputs_of("evaluate"),
    output:
        pattern(OUTPUTS["evaluate"]),
    params:
        settings=settings_of("evaluate"),
        command=command_of("evaluate"),
    log:
        LOGS["evaluate"],
    benchmark:
        pattern(RECORDS["evaluate"])
    threads: RESOURCES["evaluate"]["threads"]
    resources:
        mem_mb=RESOURCES["evaluate"]["mem_mb"],
        runtime=RESOURCES["evaluate"]["runtime"],
        gpu=RESOURCES["evaluate"]["gpu"],
    conda:
        "../../environment.yml"
    shell:
        "{params.command} > {log} 2>&1"


rule gather:
    input:
        inputs_of("gather"),
    output:
        pattern(OUTPUTS["gather"]),
    params:
        settings=settings_of("gather"),
        command=command_of("gather"),
    log:
        LOGS["gather"],
    threads: RESOURCES["gather"]["threads"]
    resources:
        mem_mb=RESOURCES["gather"]["mem_mb"],
        runtime=RESOURCES["gather"]["runtime"],
        gpu=RESOURCES["gather"]["gpu"],
    conda:
        "../../environment.yml"
    shell:
        "{params.command} > {log} 2>&1"

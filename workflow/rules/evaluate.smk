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
        **resources_of("evaluate"),
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
        **resources_of("gather"),
    conda:
        "../../environment.yml"
    shell:
        "{params.command} > {log} 2>&1"

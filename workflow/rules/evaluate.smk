# One job per evaluation training (experiment, search seed, genotype label, training seed), reading the
# genotype file its search wrote (gather.smk then writes each experiment's summary).
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
    threads: RESOURCES["evaluate"].threads
    resources:
        **resources_of("evaluate"),
    conda:
        "../../environment.yml"
    shell:
        LOGGED_COMMAND


# NAS-Bench-201 searches: one table lookup per search (no training), reading the genotype it wrote.
rule lookup:
    input:
        inputs_of("lookup"),
    output:
        pattern(OUTPUTS["lookup"]),
    wildcard_constraints:
        exp=one_per_seed("lookup"),
    params:
        settings=settings_of("lookup"),
        command=command_of("lookup"),
    log:
        LOGS["lookup"],
    threads: RESOURCES["lookup"].threads
    resources:
        **resources_of("lookup"),
    conda:
        "../../environment.yml"
    shell:
        LOGGED_COMMAND

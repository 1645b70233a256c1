# One job per (experiment, seed): a supernet search, or a random baseline's sampling. A retried job
# resumes from the checkpoint in its folder.
rule search:
    input:
        inputs_of("search"),
    output:
        pattern(OUTPUTS["search"]),
    wildcard_constraints:
        exp=one_per_seed("search"),
    params:
        settings=settings_of("search"),
        command=command_of("search"),
    log:
        LOGS["search"],
    benchmark:
        pattern(RECORDS["search"])
    threads: RESOURCES["search"].threads
    resources:
        **resources_of("search"),
    conda:
        "../../environment.yml"
    shell:
        LOGGED_COMMAND


rule random:
    input:
        inputs_of("random"),
    output:
        pattern(OUTPUTS["random"]),
    wildcard_constraints:
        exp=one_per_seed("random"),
    params:
        settings=settings_of("random"),
        command=command_of("random"),
    log:
        LOGS["random"],
    benchmark:
        pattern(RECORDS["random"])
    threads: RESOURCES["random"].threads
    resources:
        **resources_of("random"),
    conda:
        "../../environment.yml"
    shell:
        LOGGED_COMMAND

# One job per experiment: its summary (what the tables read) from its trainings' results or lookups.
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
    threads: RESOURCES["gather"].threads
    resources:
        **resources_of("gather"),
    conda:
        "../../environment.yml"
    shell:
        LOGGED_COMMAND

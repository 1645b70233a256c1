rule prepare_data:
    output:
        directory(OUTPUTS["prepare_data"][0]),
    params:
        settings=settings_of("prepare_data"),
        command=command_of("prepare_data"),
    log:
        LOGS["prepare_data"],
    threads: RESOURCES["prepare_data"]["threads"]
    resources:
        **resources_of("prepare_data"),
    conda:
        "../../environment.yml"
    shell:
        "{params.command} > {log} 2>&1"

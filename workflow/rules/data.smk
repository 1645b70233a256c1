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
        mem_mb=RESOURCES["prepare_data"]["mem_mb"],
        runtime=RESOURCES["prepare_data"]["runtime"],
        gpu=RESOURCES["prepare_data"]["gpu"],
    conda:
        "../../environment.yml"
    shell:
        "{params.command} > {log} 2>&1"

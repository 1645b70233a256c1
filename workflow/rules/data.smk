rule prepare_data:
    output:
        directory(OUTPUTS["prepare_data"][0]),
    params:
        settings=settings_of("prepare_data"),
        command=command_of("prepare_data"),
    log:
        LOGS["prepare_data"],
    threads: RESOURCES["prepare_data"].threads
    resources:
        **resources_of("prepare_data"),
    conda:
        "../../environment.yml"
    shell:
        LOGGED_COMMAND


# Planned only where data.imagenet.source (or $STRETCHNAS_IMAGENET) names an ImageNet tree: Table 2's jobs.
rule prepare_imagenet:
    output:
        directory(OUTPUTS["prepare_imagenet"][0]),
    params:
        settings=settings_of("prepare_imagenet"),
        command=command_of("prepare_imagenet"),
    log:
        LOGS["prepare_imagenet"],
    threads: RESOURCES["prepare_data"].threads
    resources:
        **resources_of("prepare_data"),
    conda:
        "../../environment.yml"
    shell:
        LOGGED_COMMAND

rule prepare_data:
    output:
        directory("data/prepared/{scale}"),
    params:
        settings=lambda wc: fingerprint(data_inputs(SETTINGS)),
    log:
        "logs/{scale}/prepare_data.log",
    threads: RESOURCES["prepare_data"]["threads"]
    resources:
        mem_mb=RESOURCES["prepare_data"]["mem_mb"],
        runtime=RESOURCES["prepare_data"]["runtime"],
        gpu=RESOURCES["prepare_data"]["gpu"],
    conda:
        "../../environment.yml"
    shell:
        "stretchnas prepare-data --scale {wildcards.scale} --out {output} > {log} 2>&1"

rule prepare_data:
    output:
        directory("data/prepared/{scale}"),
    shell:
        "stretchnas prepare-data --scale {wildcards.scale} --out {output}"

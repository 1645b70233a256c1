rule prepare_data:
    output:
        directory("data/prepared/{scale}"),
    conda:
        "../../environment.yml"
    shell:
        "stretchnas prepare-data --scale {wildcards.scale} --out {output}"

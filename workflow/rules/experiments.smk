wildcard_constraints:
    exp="|".join(EXPERIMENTS + sorted(FOLLOWUPS)),


rule experiment:
    input:
        "data/prepared/{scale}",
    output:
        "runs/{scale}/summaries/{exp}.json",
    wildcard_constraints:
        exp="|".join(EXPERIMENTS),
    params:
        settings=lambda wc: fingerprint(experiment_inputs(SETTINGS, wc.exp)),
    log:
        "logs/{scale}/experiment/{exp}.log",
    threads: RESOURCES["experiment"]["threads"]
    resources:
        mem_mb=RESOURCES["experiment"]["mem_mb"],
        runtime=RESOURCES["experiment"]["runtime"],
        gpu=RESOURCES["experiment"]["gpu"],
    conda:
        "../../environment.yml"
    shell:
        "stretchnas experiment --scale {wildcards.scale} --exp {wildcards.exp}"
        " --out runs/{wildcards.scale}/{wildcards.exp} --summary {output} --quiet > {log} 2>&1"


rule followup:
    input:
        data="data/prepared/{scale}",
        after=lambda wc: f"runs/{wc.scale}/summaries/{FOLLOWUPS[wc.exp]['topology_from']}.json",
    output:
        "runs/{scale}/summaries/{exp}.json",
    wildcard_constraints:
        exp="|".join(sorted(FOLLOWUPS)) or "^$",
    params:
        settings=lambda wc: fingerprint(experiment_inputs(SETTINGS, wc.exp)),
    log:
        "logs/{scale}/experiment/{exp}.log",
    threads: RESOURCES["experiment"]["threads"]
    resources:
        mem_mb=RESOURCES["experiment"]["mem_mb"],
        runtime=RESOURCES["experiment"]["runtime"],
        gpu=RESOURCES["experiment"]["gpu"],
    conda:
        "../../environment.yml"
    shell:
        "stretchnas experiment --scale {wildcards.scale} --exp {wildcards.exp} --after {input.after}"
        " --out runs/{wildcards.scale}/{wildcards.exp} --summary {output} --quiet > {log} 2>&1"

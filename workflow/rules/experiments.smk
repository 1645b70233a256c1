wildcard_constraints:
    exp="|".join(EXPERIMENTS + sorted(FOLLOWUPS)),


rule experiment:
    input:
        "data/prepared/{scale}",
    output:
        "runs/{scale}/summaries/{exp}.json",
    wildcard_constraints:
        exp="|".join(EXPERIMENTS),
    conda:
        "../../environment.yml"
    shell:
        "stretchnas experiment --scale {wildcards.scale} --exp {wildcards.exp}"
        " --out runs/{wildcards.scale}/{wildcards.exp} --summary {output} --quiet"


rule followup:
    input:
        data="data/prepared/{scale}",
        after=lambda wc: f"runs/{wc.scale}/summaries/{FOLLOWUPS[wc.exp]['topology_from']}.json",
    output:
        "runs/{scale}/summaries/{exp}.json",
    wildcard_constraints:
        exp="|".join(sorted(FOLLOWUPS)) or "^$",
    conda:
        "../../environment.yml"
    shell:
        "stretchnas experiment --scale {wildcards.scale} --exp {wildcards.exp} --after {input.after}"
        " --out runs/{wildcards.scale}/{wildcards.exp} --summary {output} --quiet"

# workflow.seeds_in_one_job: one job per experiment runs its searches (or random baselines), another its
# NAS-Bench-201 lookups, each seed's command in turn in one process (`stretchnas batch`). Their outputs
# differ in number by experiment, so each such job is a rule of its own, made from the plan's job.
def base_rule(unit):
    return next(rule for rule, together in SEEDS_IN_ONE_JOB.items() if together == unit.rule)


# Searches and random baselines: their record (wall time, peak memory) covers all the job's seeds
for unit in (unit for unit in SEEDS_TOGETHER if record_of(unit)):

    rule:
        name:
            f"{unit.rule}_{unit.wildcards['exp']}"
        input:
            unit.inputs,
        output:
            unit.outputs,
        params:
            settings=json.dumps(unit.fingerprint, sort_keys=True),
            command=unit.command,
        log:
            log_of(unit),
        benchmark:
            record_of(unit)
        threads: RESOURCES[base_rule(unit)].threads
        resources:
            **resources_of(base_rule(unit)),
        conda:
            "../../environment.yml"
        shell:
            LOGGED_COMMAND


# NAS-Bench-201 lookups (a table read each: no record)
for unit in (unit for unit in SEEDS_TOGETHER if not record_of(unit)):

    rule:
        name:
            f"{unit.rule}_{unit.wildcards['exp']}"
        input:
            unit.inputs,
        output:
            unit.outputs,
        params:
            settings=json.dumps(unit.fingerprint, sort_keys=True),
            command=unit.command,
        log:
            log_of(unit),
        threads: RESOURCES[base_rule(unit)].threads
        resources:
            **resources_of(base_rule(unit)),
        conda:
            "../../environment.yml"
        shell:
            LOGGED_COMMAND

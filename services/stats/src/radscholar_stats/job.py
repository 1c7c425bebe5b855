"""The Ray driver of an analysis job: ``python -m radscholar_stats.job <job id>``.

Reads the request the service wrote, runs the analysis on the stored table (a classifier reports each fold), stores
the result as ``RunAnalysis`` would, and writes the outcome (the result's id) for the service.
"""

from __future__ import annotations

import json
import sys

from radscholar_core.errors import DomainError
from radscholar_core.job_driver import done, objects_from_environment, report, say
from radscholar_stats import analyses
from radscholar_stats.adapters.stored import Results, Tables
from radscholar_stats.jobs import outcome_key, request_key

STEPS = 100  # progress is reported in hundredths


def run(job_id: str) -> int:
    objects = objects_from_environment()
    request = json.loads(objects.get(request_key(job_id)))
    frame = Tables(objects).frame(request["table_id"])
    say("INFO", f"{request['kind']} on {len(frame)} rows x {len(frame.columns)} columns")
    report(0, STEPS, "starting")

    def progress(fraction: float, step: str) -> None:
        report(round(fraction * STEPS), STEPS, step)

    try:
        analysis = analyses.run(request["kind"], frame, request["parameters"], progress)
    except DomainError as error:
        say("ERROR", f"{error.reason}: {error}")
        return 1
    stored = Results(objects).keep(analysis, request["table_id"], request["kind"], request["created_by"])
    objects.put(outcome_key(job_id), json.dumps({"result_id": stored.id, "kind": stored.kind}).encode())
    say("INFO", f"result {stored.id}: {len(stored.rows_used)} rows used, {len(stored.rows_dropped)} left out")
    done()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -m radscholar_stats.job JOB_ID\n")
        sys.exit(2)
    sys.exit(run(sys.argv[1]))

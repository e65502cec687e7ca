"""Schemathesis hooks for scripts/schemathesis (loaded through $SCHEMATHESIS_HOOKS).

The change feed's long-poll (`GET /v1/changes?wait=N`) answers after N seconds when nothing new commits: that is
what it is for, and it is longer than the run's request timeout. A valid wait is shortened to 1 second; an
out-of-range one is kept, so its refusal is still checked. The waits themselves are tested by ChangesRouterTests.
"""
import schemathesis


@schemathesis.hook
def map_case(context, case):
    if case.operation.path == "/v1/changes" and case.query and "wait" in case.query:
        try:
            wait = int(str(case.query["wait"]))
        except ValueError:
            return case
        if 1 < wait <= 55:
            case.query["wait"] = 1
    return case

"""The assessment: one evaluation of a store as of a time under a policy (policy results and
scores, staleness, one end-of-life verdict per image, fixable findings against their SLA with the
history's clock, coverage), that every command, report and notebook reads.

    from auditlib.assess import assess
    a = assess("auditlib-store", as_of="2026-12-01", policy="policy.yaml")
    a.evaluation.results      # policy_results
    a.staleness               # staleness
    a.eol                     # os_end_of_life
    a.sla_counts              # fixable findings per image, severity and SLA state
    a.findings                # every fixable finding and its SLA state (all rows, on request)
    a.summary()               # the headline figures every face shows
    a.data.images             # the small tables, in pandas
    a.sql("SELECT ... FROM vulnerabilities")  # the big tables stay in the engine (a.in_engine)
    save_assessment(a, "run/saved-assessment")  # load_assessment(...) reads it back
"""

from auditlib.assess.assessment import Assessment, assess, assess_data, staleness
from auditlib.assess.saved import (
    StaleAssessmentError,
    assessed,
    load_assessment,
    save_assessment,
)
from auditlib.assess.snapshots import SnapshotUse, current_snapshots

__all__ = ["Assessment", "SnapshotUse", "StaleAssessmentError", "assess", "assess_data",
           "assessed", "current_snapshots", "load_assessment", "save_assessment", "staleness"]

"""History: the store's state after every snapshot, and what changed between them.

One call each::

    from auditlib import history
    h = history.read_history("auditlib-store")            # every table, per snapshot
    history.vulnerability_counts(h)                         # by severity over time
    history.scan_coverage(h)                                # images scanned, per snapshot
    history.vulnerability_changes("auditlib-store")        # new and fixed since the last run
    history.time_to_fix(h)                                  # per repository, vulnerability, package
    history.first_seen_fixed(h)                             # the fixable-vulns-sla rule's clock
    history.never_rebuilt(h, min_days=30)                   # repositories whose image never changed
    history.staleness_trend(h)                              # per snapshot and repository
    history.trends_of("auditlib-store")                     # what the staleness page draws

Each analysis takes a store folder or the dict `read_history` returned (read once, ask many
times). Over a store no snapshot's vulnerabilities reach pandas: the engine counts them over
each snapshot's files (`auditlib.engine.trends`). The state at snapshot k is what
`store.read_current(store, as_of=k)` returns: every source as the newest snapshot up to k read
it (or carried it over), without the sources removed by then.
"""

from auditlib.history.read import SNAPSHOTS, read_history
from auditlib.history.trends import Trends, trends_of
from auditlib.history.views import (
    NEEDED,
    first_seen_fixed,
    never_rebuilt,
    scan_coverage,
    staleness_trend,
    time_to_fix,
    vulnerability_changes,
    vulnerability_counts,
)

__all__ = [
    "NEEDED",
    "SNAPSHOTS",
    "Trends",
    "first_seen_fixed",
    "never_rebuilt",
    "read_history",
    "scan_coverage",
    "staleness_trend",
    "time_to_fix",
    "trends_of",
    "vulnerability_changes",
    "vulnerability_counts",
]

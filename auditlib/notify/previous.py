"""The previous run of a store: its record (`store.layout.last_run_file`), and its assessment
rebuilt from the store's snapshots.

Each `auditlib run` records the newest snapshot after its steps and its as-of time. The next run
assesses the store's state right after that snapshot (`assess.assessment.read_state`) at that
time, under its own policy, and compares. A store without a record (its first run, or runs made
before the record existed) has nothing to compare with.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from auditlib.assess import Assessment, assess_data
from auditlib.assess.assessment import read_state
from auditlib.engine.history import EngineClock, history_clock
from auditlib.files import read_json_object, write_atomic
from auditlib.normalize.times import utc_time
from auditlib.notify.digest import Previous
from auditlib.policy.config import Policy
from auditlib.store.layout import StorePath, last_run_file
from auditlib.store.manifest import snapshot_infos


def read_last_run(store: StorePath) -> Previous | None:
    """Return the record of the store's previous run, or None when there is none, it is not
    readable, or its snapshot is no longer in the store."""
    raw = read_json_object(last_run_file(store))
    if raw is None:
        return None
    sid, when = raw.get("snapshot_id"), utc_time(raw.get("as_of"))
    if not isinstance(sid, str) or when is None:
        return None
    if sid not in {i.snapshot_id for i in snapshot_infos(store)}:
        return None
    return Previous(sid, when)


def write_last_run(store: StorePath, as_of: pd.Timestamp) -> Previous | None:
    """Record the store's newest snapshot and `as_of` as its last run; return the record (None
    when the store has no snapshot)."""
    infos = snapshot_infos(store)
    if not infos:
        return None
    rec = Previous(infos[-1].snapshot_id, as_of)
    write_atomic(last_run_file(store), json.dumps(
        {"snapshot_id": rec.snapshot_id, "as_of": as_of.isoformat()}) + "\n")
    return rec


def previous_assessment(store: StorePath, previous: Previous, policy: Policy,
                        seen: pd.DataFrame | EngineClock | None = None) -> Assessment:
    """Return the assessment of the store as it was right after `previous.snapshot_id`, at
    `previous.as_of`, under `policy`.

    Args:
        seen: when each finding was first seen fixable (`auditlib.history.first_seen_fixed`), as
            this run's assessment read it (`FleetView.first_seen_fixed`); read from the store
            when not given or kept in this run's engine (then kept in the previous state's
            engine, `auditlib.engine.history.history_clock`). A finding the previous state
            holds was first seen by then, so the whole history gives its clock as it was.

    Raises:
        StoreError: if the store cannot be read.
    """
    data, _, engine = read_state(store, snapshot=previous.snapshot_id)
    if (seen is None or isinstance(seen, EngineClock)) and len(snapshot_infos(store)) > 1:
        seen = history_clock(store, engine)  # in this engine: joined there, never in pandas
    a = assess_data(data, as_of=previous.as_of, policy=policy, first_seen_fixed=seen,
                    engine=engine)
    a.store = Path(store)
    return a

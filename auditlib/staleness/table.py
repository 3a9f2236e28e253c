"""Staleness per image: how far behind it is, and how urgently it should be rebuilt.

`staleness_of(view)` gives one row per image (the `staleness` table of docs/tables.md): age
since the build; the base image (Dockerfile FROM, OCI base labels, or shared layers, as Docker
Scout) and its age; whether the base tag has moved on (Scout's "refresh"); newer tags in the
same track (Renovate's rules, `auditlib.staleness.tag_tracks`); the OS and its end of life
(bundled, dated table, `auditlib.eol`); fixable vulnerabilities and how long their fixes have
been available, split into those a rebuild on a refreshed base fixes (in the base's layers) and
those only the image's own change fixes; whether the upstream repository looks abandoned;
deployment lag of running containers. The ranking columns (`rebuild_priority`, `priority_rank`,
...) are left empty here: the assessment fills them with its one ranking of what to fix first
(`auditlib.assess.fix_first`), which also weighs the policy's results and each finding's SLA.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from functools import cache
from typing import Any

import pandas as pd

from auditlib.fleet.bases import tag_key
from auditlib.fleet.findings import DEFAULT_SLA, SlaParams
from auditlib.fleet.view import FleetView, text
from auditlib.identity import parse_reference
from auditlib.normalize.times import build_time, utc_time
from auditlib.staleness.tag_tracks import ABANDONMENT_THRESHOLD_DAYS, is_abandoned, newer_tags
from auditlib.tables import STALENESS, frame

SEVERITIES_COUNTED = ("critical", "high", "medium", "low")
"""Severities whose fixable vulnerabilities are counted per image."""


def _days(ctx: FleetView, t: pd.Timestamp | None) -> float | None:
    return None if t is None else round((ctx.as_of - t).total_seconds() / 86400, 1)


@cache
def _repo(ref: str | None) -> tuple[str | None, str | None]:
    """Return (registry/repository, tag) of a reference, each parsed once while `staleness_of`
    runs (it empties the cache when it ends): an image's tags are asked for by several
    columns."""
    p = parse_reference(ref) if ref else None
    return (p.name, p.tag) if p is not None else (None, None)


def _repo_tags(ctx: FleetView) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Return repository -> every tag known, and repository -> tags a registry listed."""
    known: dict[str, set[str]] = {}
    listed: dict[str, set[str]] = {}
    rt = ctx.data.registry_tags.dropna(subset=["tag"])
    for reg, repo, tag in zip(rt["registry"].astype(str), rt["repository"].astype(str),
                              rt["tag"].astype(str), strict=True):
        name = _repo(f"{reg}/{repo}:{tag}")[0] or f"{reg}/{repo}"
        known.setdefault(name, set()).add(tag)
        listed.setdefault(name, set()).add(tag)
    for refs in ctx.tags.values():
        for ref in refs:
            ref_repo, ref_tag = _repo(ref)
            if ref_repo and ref_tag:
                known.setdefault(ref_repo, set()).add(ref_tag)
    return known, listed


def _newest_tag_time(ctx: FleetView) -> dict[str, pd.Timestamp]:
    """Return repository -> when its newest image (by config `created`) was built."""
    out: dict[str, pd.Timestamp] = {}
    rt = ctx.data.registry_tags.dropna(subset=["created_at"])
    for reg, repo, created in zip(rt["registry"].astype(str), rt["repository"].astype(str),
                                  rt["created_at"], strict=True):
        name = _repo(f"{reg}/{repo}:x")[0] or f"{reg}/{repo}"
        t = build_time(created)
        if t is not None and (name not in out or t > out[name]):
            out[name] = t
    return out


def base_layer_sets(ctx: FleetView) -> dict[str, set[str]]:
    """Return image id -> the layer diff ids of the base it was built on, for images whose base
    image (and its layers) is known: a fixable package added in one of these layers is fixed by
    a rebuild on a refreshed base."""
    return {i: set(ctx.layers[b.image_id]) for i, b in ctx.bases.items()
            if b.image_id and b.image_id in ctx.layers}


def _vuln_summary(ctx: FleetView, base_layers: dict[str, set[str]],
                  sla: SlaParams) -> pd.DataFrame:
    """Return per image: fixable counts, oldest fix age, and the base/own split (counted in the
    engine: `fleet.findings.Fixable`)."""
    # The SLA states are not read (any SLA counts the same findings and days): the counts under
    # the SLA in force are the ones the policy rule and the assessment asked for, counted once.
    c = ctx.fixable.counts(sla)
    if c.empty:
        return pd.DataFrame(columns=["fixable_count", "fixable_critical", "fixable_high",
                                     "oldest_fix_days", "fixable_in_base",
                                     "fixable_in_own", "fixable_medium", "fixable_low"])
    c = c.assign(sev=c["severity"].astype(str))
    g = c.groupby("image_id")
    out = c.pivot_table(index="image_id", columns="sev", values="findings", aggfunc="sum",
                        fill_value=0).reindex(columns=list(SEVERITIES_COUNTED), fill_value=0)
    out = out.add_prefix("fixable_").assign(
        fixable_count=g["findings"].sum(), oldest_fix_days=g["most_days"].max())
    split = ctx.fixable.base_split(base_layers)
    out["fixable_in_base"] = split["in_base"].astype("Int64")
    out["fixable_in_own"] = (split["layered"] - split["in_base"]).astype("Int64")
    return out


def _build_times(ctx: FleetView) -> dict[str, pd.Timestamp | None]:
    """Return image id -> its build time (`utc_time` of `FleetView.images`' created_at), for
    every image of the view (None where unknown)."""
    if "created_at" not in ctx.images:
        return {}
    created = ctx.images["created_at"]
    return {str(i): utc_time(t) for i, t in zip(created.index, created.tolist(), strict=True)}


def _newer_build(ctx: FleetView, built: Mapping[str, pd.Timestamp | None]
                 ) -> dict[str, tuple[str, float]]:
    """Return image id -> (a newer build of its repository, days between the builds), for images
    running containers (`built`: `_build_times`).
    """
    by_repo: dict[str, list[tuple[pd.Timestamp, str]]] = {}
    for image_id, refs in ctx.tags.items():
        t = built.get(image_id)
        if t is None:
            continue
        for name in {_repo(r)[0] for r in refs} - {None}:
            by_repo.setdefault(str(name), []).append((t, image_id))
    out: dict[str, tuple[str, float]] = {}
    for image_id in set(ctx.running["image_id"]):
        mine = built.get(image_id)
        if mine is None:
            continue
        newer: list[tuple[pd.Timestamp, str]] = []
        for name in {_repo(r)[0] for r in ctx.tags.get(image_id, [])} - {None}:
            newer += [(t, i) for t, i in by_repo.get(str(name), []) if t > mine and i != image_id]
        if newer:
            t, i = max(newer)
            out[image_id] = (i, round((t - mine).total_seconds() / 86400, 1))
    return out


_EOL_COLUMNS = ("os_family", "os_version", "os_eol_date", "os_eol_kind", "os_eol_source",
                "os_days_to_eol", "os_is_eol", "os_eol_by")
"""The columns of the `os_end_of_life` table a staleness row takes (`_row_eol`)."""
_FIXABLE_COLUMNS = ("fixable_count", "fixable_critical", "fixable_high", "oldest_fix_days",
                    "fixable_in_base", "fixable_in_own")
"""The columns of `_vuln_summary` a staleness row takes."""


def _rows_by_index(table: pd.DataFrame, columns: tuple[str, ...]
                   ) -> dict[Hashable, dict[str, Any]]:
    """Return index value -> {column: cell} of `table`'s `columns`, the cells as `tolist` gives
    them (`to_dict("index")`'s rows, a column at a time)."""
    cells = [table[c].tolist() for c in columns]
    return {i: dict(zip(columns, row, strict=True))
            for i, row in zip(table.index, zip(*cells, strict=True), strict=True)}


def _row_eol(row: dict[str, Any], verdict: Mapping[str, Any]) -> None:
    """Fill the OS columns of a staleness row from the image's end-of-life verdict (its row of
    the `os_end_of_life` table, column -> value)."""
    row.update(os_family=text(verdict["os_family"]), os_version=text(verdict["os_version"]),
               os_eol_date=utc_time(verdict["os_eol_date"]),
               os_eol_kind=text(verdict["os_eol_kind"]),
               os_eol_source=text(verdict["os_eol_source"]),
               os_days_to_eol=None if pd.isna(verdict["os_days_to_eol"])
               else float(verdict["os_days_to_eol"]),
               os_is_eol=None if pd.isna(verdict["os_is_eol"]) else bool(verdict["os_is_eol"]),
               os_eol_by=text(verdict["os_eol_by"]))


def staleness_of(ctx: FleetView, abandonment_days: int = ABANDONMENT_THRESHOLD_DAYS,
                 sla: SlaParams = DEFAULT_SLA) -> pd.DataFrame:
    """Return the `staleness` table of a fleet view (its as-of time, history clock and
    end-of-life verdicts): one row per image, in the view's order, the ranking columns empty
    (`auditlib.assess.fix_first` fills them).

    Args:
        sla: the SLA in force (the assessment's, `Assessment.sla_params`): its fixable counts
            are the ones the policy rule asked for, so the engine counts once. The table's
            columns do not depend on it (counts and days, never SLA states).
    """
    try:
        return _staleness(ctx, abandonment_days, sla)
    finally:
        _repo.cache_clear()


def _staleness(ctx: FleetView, abandonment_days: int, sla: SlaParams) -> pd.DataFrame:
    """Return `staleness_of(ctx, abandonment_days, sla)`."""
    now = ctx.as_of
    newer_of: dict[tuple[str, str], list[str]] = {}

    def newer_in(repository: str, tag: str, tags: set[str]) -> list[str]:
        """Return `newer_tags` of `tag` among `tags`, the repository's, each once."""
        key = (repository, tag)
        if key not in newer_of:
            newer_of[key] = newer_tags(tag, sorted(tags), repository=repository, as_of=now)
        return newer_of[key]

    known_bases = ctx.bases
    base_keys = {i: tag_key(b.ref) for i, b in known_bases.items()}
    nows = ctx.base_tag_now({k for k in base_keys.values() if k})
    repo_tags, listed = _repo_tags(ctx)
    newest_at = _newest_tag_time(ctx)
    base_layers = base_layer_sets(ctx)
    vulns = _vuln_summary(ctx, base_layers, sla)
    built = _build_times(ctx)
    lag = _newer_build(ctx, built)
    running = ctx.running["image_id"].value_counts().to_dict()
    scanned = ctx.vuln_scanned  # no fixable count is 0 only for these
    # Each image's build time, verdict and fixable counts looked up in plain dicts made once,
    # a column at a time: a row taken out of a frame per image (`.loc`) was a fifth of a
    # 20,000-image check, and `Series.get` and `to_dict("index")` per image a third of the
    # table's 16 s at 100,000 images (README, issue 15).
    eol_rows = _rows_by_index(ctx.eol, _EOL_COLUMNS)
    vuln_rows = _rows_by_index(vulns, _FIXABLE_COLUMNS)
    rows: list[dict[str, Any]] = []
    for image_id in ctx.image_ids:
        name = ctx.name(image_id)
        repository, tag = _repo(ctx.shown_tag(image_id))
        created = built.get(image_id)
        row: dict[str, Any] = {
            "image_id": image_id, "image_name": name, "repository": repository,
            "created_at": created, "age_days": _days(ctx, created), "evaluated_at": now,
        }
        base = known_bases.get(image_id)
        if base is not None:
            b_created = built.get(base.image_id) if base.image_id else None
            row.update(base_ref=base.ref, base_found_by=base.how, base_image_id=base.image_id,
                       base_created_at=b_created, base_age_days=_days(ctx, b_created))
            key = base_keys.get(image_id)
            now_tag = nows.get(key) if key else None
            if now_tag is not None:
                row["base_current_image_id"] = next(iter(now_tag.image_ids), None)
                row["base_current_created_at"] = now_tag.created
                current = ctx.built_on_current(image_id, base, now_tag)
                row["base_drifted"] = None if current is None else not current
            b_repo, b_tag = _repo(base.ref)
            if b_repo and b_tag and b_repo in repo_tags:
                newer_base = newer_in(b_repo, b_tag, repo_tags[b_repo])
                row["base_newer_tags"] = ",".join(newer_base) or None
        if repository and tag:
            tags = repo_tags.get(repository, set())
            if repository in listed or len(tags) > 1:
                newer = newer_in(repository, tag, tags)
                row.update(newer_tags=",".join(newer) or None,
                           newest_tag=newer[0] if newer else None, newer_tag_count=len(newer))
        upstream = _repo(base.ref)[0] if base is not None and base.ref else repository
        if upstream and upstream in newest_at:
            row["upstream_newest_tag_at"] = newest_at[upstream]
            row["upstream_abandoned"] = is_abandoned(newest_at[upstream], now, abandonment_days)
        _row_eol(row, eol_rows[image_id])
        if image_id in vuln_rows:
            v = vuln_rows[image_id]
            row.update(
                fixable_count=int(v["fixable_count"]),
                fixable_critical=int(v["fixable_critical"]), fixable_high=int(v["fixable_high"]),
                oldest_fix_days=None if pd.isna(v["oldest_fix_days"]) else float(
                    v["oldest_fix_days"]),
                fixable_in_base=None if pd.isna(v["fixable_in_base"]) else int(
                    v["fixable_in_base"]),
                fixable_in_own=None if pd.isna(v["fixable_in_own"]) else int(v["fixable_in_own"]),
            )
        elif image_id in scanned:
            row.update(fixable_count=0, fixable_critical=0, fixable_high=0)
        row["running_containers"] = int(running.get(image_id, 0))
        if image_id in lag:
            row["newer_build_image_id"], row["deployment_lag_days"] = lag[image_id]
        rows.append(row)
    cols = {c: [r.get(c) for r in rows] for c in STALENESS.column_names}
    return frame(STALENESS, cols, len(rows))

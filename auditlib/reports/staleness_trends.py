"""The trends of the staleness report: the store's history (`auditlib.history.trends`: small
frames the assessment computes once, its vulnerabilities counted in the engine) as charts and
tables, and what each says when it has nothing to show.

A count of vulnerabilities at a snapshot is a count over the images a vulnerability scan
covered then (`history.scan_coverage`): a snapshot where none was is a gap, not a zero, and the
images not scanned are drawn as a grey line of their own. An empty section says why: one
snapshot only, no vulnerability scan in any snapshot, or nothing changed across several.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from auditlib.fleet.names import short_id, untagged_name
from auditlib.history.trends import FRAMES, SEVERITY_ORDER, Trends
from auditlib.reports.context import Report
from auditlib.reports.figures import (
    SEVERITY_COLORS,
    UNKNOWN_COLOR,
    count_axis,
    esc,
    lines,
    styled,
    time_unit,
)

_NO_TRENDS = Trends(*(pd.DataFrame() for _ in FRAMES))


def read_history(r: Report) -> Trends:
    """Return the store's trends (the assessment's, computed once for every trend of the page);
    the snapshot count and the images scanned at each snapshot go to the summary.

    Raises:
        StoreError: if the store cannot be read.
        EngineError: if the engine cannot read its files.
    """
    h = r.assessment.trends or _NO_TRENDS
    r.record(history_snapshots=snapshot_count(h))
    if snapshot_count(h):
        cov = h.coverage
        r.record(history_coverage=cov[["snapshot_id", "images", "vuln_scanned"]].astype(
            {"snapshot_id": str}).to_dict("records"))
    return h


def snapshot_count(h: Trends) -> int:
    """Return how many snapshots the history holds."""
    return h.snapshot_count


def _coverage(h: Trends) -> pd.DataFrame:
    return h.coverage if snapshot_count(h) else pd.DataFrame(
        columns=["snapshot_id", "snapshot_at", "images", "vuln_scanned", "not_scanned"])


def _one_snapshot(h: Trends, what: str) -> str | None:
    """Return the one-snapshot sentence, or None when there are two or more."""
    n = snapshot_count(h)
    if n >= 2:
        return None
    return (f"one snapshot only: {what} (a trend needs a second snapshot)" if n
            else "no snapshot in the history")


def _never_scanned(h: Trends) -> bool:
    return not int(_coverage(h)["vuln_scanned"].sum())


def _not_scanned_newest(h: Trends) -> str | None:
    """Return 'N of M images not vulnerability-scanned at the newest snapshot...', or None."""
    cov = _coverage(h)
    if cov.empty or not int(cov["not_scanned"].iloc[-1]):
        return None
    last = cov.iloc[-1]
    return (f"{int(last['not_scanned']):,} of {int(last['images']):,} images not "
            "vulnerability-scanned at the newest snapshot: their vulnerabilities not counted")


def vulnerability_trend(h: Trends) -> go.Figure | None:
    """Return vulnerabilities by severity over the store's snapshots (one line per severity,
    and the fixable ones dashed), over the images scanned at each snapshot: a snapshot with
    no vulnerability scan is a gap, and the images not scanned are a grey line on an axis of
    their own. None with fewer than two snapshots or no vulnerability scan in any."""
    if snapshot_count(h) < 2 or _never_scanned(h):
        return None
    df: pd.DataFrame = h.counts
    wide = df.pivot_table(index="snapshot_at", columns="severity", values="vulnerabilities",
                          aggfunc="sum", observed=False).fillna(0)
    cov = _coverage(h).set_index("snapshot_at").reindex(wide.index)
    blind = (cov["vuln_scanned"] == 0).to_numpy(dtype=bool)
    wide = wide.astype(float).mask(pd.Series(blind, index=wide.index), axis=0)
    series = {str(c): list(wide[c]) for c in SEVERITY_ORDER if c in wide.columns
              and wide[c].sum() > 0}
    fig = lines(list(wide.index), series, "Vulnerabilities by severity over the snapshots",
                colors=SEVERITY_COLORS, y_title="vulnerabilities", counts=True,
                subtitle=_not_scanned_newest(h))
    fixable = df.groupby("snapshot_at")["fixable"].sum().reindex(wide.index).astype(float)
    fixable[blind] = float("nan")
    fig.add_trace(go.Scatter(x=list(fixable.index), y=[None if pd.isna(v) else v
                                                       for v in fixable],
                             name="fixable (all)", mode="lines+markers",
                             line={"dash": "dash", "color": "#333"}))
    if int(cov["not_scanned"].sum()):
        fig.add_trace(go.Scatter(x=list(cov.index), y=[int(v) for v in cov["not_scanned"]],
                                 name="images not vulnerability-scanned (unknown)",
                                 mode="lines+markers", yaxis="y2",
                                 line={"dash": "dot", "color": UNKNOWN_COLOR}))
        top = int(cov["images"].max())
        fig.update_layout(yaxis2={"title": {"text": "images not scanned"}, "overlaying": "y",
                                  "side": "right", "rangemode": "tozero", "tickformat": ",d",
                                  "range": [0, max(top, 1) * 1.05], "showgrid": False},
                          margin={"r": 80})
    return fig


def no_trend_text(h: Trends) -> str:
    """Return what the vulnerability trend says when it draws nothing."""
    if (one := _one_snapshot(h, "no trend yet")) is not None:
        return one
    return (f"no vulnerability scan in any of the {snapshot_count(h):,} snapshots: the "
            "vulnerability trend is unknown (not zero)")


def changes(h: Trends, last: int = 12) -> pd.DataFrame:
    """Return, for each of the `last` pairs of consecutive snapshots, how many vulnerabilities
    were new, fixed (the image is still there and no longer has them) and gone (the image
    went), by severity."""
    if snapshot_count(h) < 2 or h.changes.empty:
        return pd.DataFrame()
    newer = set(h.snapshots["snapshot_id"].astype(str).iloc[1:].iloc[-last:])
    df = h.changes[h.changes["snapshot"].isin(newer).to_numpy(bool)]
    return df.reset_index(drop=True) if len(df) else pd.DataFrame()


def changes_figure(h: Trends) -> go.Figure | None:
    """Return new, fixed and gone vulnerabilities per snapshot, or None with fewer than two
    snapshots, no vulnerability scan or no change (`no_changes_text` says which)."""
    if _never_scanned(h):
        return None
    df = changes(h)
    if df.empty:
        return None
    counts = df.pivot_table(index="snapshot_at", columns="change", values="vulnerabilities",
                            aggfunc="sum", observed=True).fillna(0)
    colors = {"new": "#d62728", "fixed": "#2ca02c", "gone": UNKNOWN_COLOR}
    when = [f"{t:%Y-%m-%d %H:%M:%S}" for t in counts.index]
    fig = go.Figure([go.Bar(x=when, y=[int(v) for v in counts[c]], name=esc(c),
                            marker_color=colors.get(str(c))) for c in counts.columns])
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    count_axis(fig, "y", float(counts.to_numpy().max()))
    return styled(fig, "New, fixed and gone vulnerabilities at each snapshot",
                  y="vulnerabilities", subtitle=_not_scanned_newest(h)
                  or "gone: the image went, or is no longer vulnerability-scanned")


def no_changes_text(h: Trends) -> str:
    """Return what the changes chart says when it draws nothing: one snapshot only, no
    vulnerability scan, or no change across the snapshots."""
    if (one := _one_snapshot(h, "nothing to compare yet")) is not None:
        return one
    n = snapshot_count(h)
    if _never_scanned(h):
        return (f"no vulnerability scan in any of the {n:,} snapshots: what changed is "
                "unknown")
    unscanned = _not_scanned_newest(h)
    return (f"no vulnerability new, fixed or gone across the {n:,} snapshots"
            + (f" ({unscanned})" if unscanned else ""))


def time_to_fix(h: Trends) -> pd.DataFrame:
    """Return, per severity (worst first): vulnerabilities fixed over the history, the median
    and longest days to fix, and those still open."""
    if snapshot_count(h) < 2:
        return pd.DataFrame()
    return h.fix_times


def no_time_to_fix_text(h: Trends) -> str:
    """Return what the time-to-fix table says when it has no row."""
    if (one := _one_snapshot(h, "no fix seen yet")) is not None:
        return one
    if _never_scanned(h):
        return (f"no vulnerability scan in any of the {snapshot_count(h):,} snapshots: time "
                "to fix unknown")
    return "no vulnerability seen in the scanned images across the snapshots"


def time_to_fix_unknown_text(h: Trends) -> str:
    """Return how many images the time-to-fix table could not follow (not vulnerability-scanned
    at the newest snapshot), or '' when every image was scanned or the table is empty."""
    unscanned = _not_scanned_newest(h)
    if not unscanned or time_to_fix(h).empty:
        return ""
    return f"counted over the scanned images only: {unscanned}"


def never_rebuilt(h: Trends, min_days: float = 30) -> pd.DataFrame:
    """Return the repositories whose current image did not change for at least `min_days` of
    the store's history, longest first."""
    if snapshot_count(h) < 2:
        return pd.DataFrame()
    df: pd.DataFrame = h.never_rebuilt
    if df.empty:
        return df
    df = df[df["span_days"] >= min_days]
    return pd.DataFrame({
        "repository": df["repository"],
        "image": df["image_id"].astype("string").map(short_id, na_action="ignore"),
        "built": df["created_at"], "current since": df["first_seen_at"],
        "snapshots": df["snapshots"], "unchanged for (days)": df["span_days"],
        "age (days)": df["age_days"],
    })


def no_never_rebuilt_text(h: Trends, min_days: float = 30) -> str:
    """Return what the never-rebuilt table says when it has no row."""
    if (one := _one_snapshot(h, "no rebuild can be seen yet")) is not None:
        return one
    snaps = h.snapshots["snapshot_at"]
    span = (snaps.max() - snaps.min()).total_seconds() / 86400
    if span < min_days:
        return (f"the {snapshot_count(h):,} snapshots span {span:,.1f} days, less than "
                f"{min_days:g}: whether a repository went {min_days:g} days without a rebuild "
                "is unknown yet")
    return f"no repository kept the same image for {min_days:g} days of snapshots"


def staleness_trend_figure(h: Trends, repositories: int = 10) -> go.Figure | None:
    """Return the age of each repository's current image over the snapshots (in the unit the
    ages call for), for the `repositories` oldest at the newest snapshot; None with fewer than
    two snapshots or no build time known."""
    if snapshot_count(h) < 2:
        return None
    df: pd.DataFrame = h.staleness
    undated = int(df.loc[df["snapshot_at"] == df["snapshot_at"].max(), "age_days"].isna().sum())
    df = df.dropna(subset=["age_days"])
    if df.empty:
        return None
    unit = df["repository"].astype("string").fillna(
        df["image_id"].astype("string").map(untagged_name, na_action="ignore"))
    df = df.assign(_unit=unit)
    newest = df[df["snapshot_at"] == df["snapshot_at"].max()]
    keep = list(newest.sort_values("age_days", ascending=False)["_unit"].head(repositories))
    wide = df[df["_unit"].isin(keep)].pivot_table(index="snapshot_at", columns="_unit",
                                                  values="age_days")
    name, per = time_unit(float(wide.max().max()))
    return lines(list(wide.index),
                 {str(c): [v / per for v in wide[c]] for c in keep if c in wide.columns},
                 f"Age of the current image of the {len(keep)} oldest repositories",
                 y_title=f"{name} since the build",
                 subtitle=f"not shown: {undated:,} with no build time" if undated else None)


def no_age_trend_text(h: Trends) -> str:
    """Return what the age trend says when it draws nothing."""
    if (one := _one_snapshot(h, "no trend yet")) is not None:
        return one
    return "no build time known for any repository's current image: the age trend is unknown"

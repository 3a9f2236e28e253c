"""What the staleness report shows, from the report's assessment: its `staleness` table (one
row per image), its end-of-life verdicts, and the store's history (`auditlib.history`).
"""

from __future__ import annotations

from typing import cast

import pandas as pd
import plotly.graph_objects as go

from auditlib import history
from auditlib.fleet.names import short_id, untagged_name
from auditlib.history import SNAPSHOTS
from auditlib.reports.context import Report
from auditlib.reports.figures import SEVERITY_COLORS, bar, esc, histogram, lines, stacked, styled
from auditlib.reports.markup import Card

SEVERITY_ORDER = ("critical", "high", "medium", "low", "negligible", "unknown")


def _short_ids(ids: pd.Series) -> pd.Series:
    """Return image ids as `fleet.names.short_id` shows them (missing stays missing)."""
    return ids.astype("string").map(short_id, na_action="ignore").astype("string")


def staleness_table(r: Report) -> pd.DataFrame:
    """Return the `staleness` table of the report's assessment (one row per image, by rebuild
    priority): the same table `auditlib staleness` prints for the same store, time and policy."""
    return r.assessment.staleness


def headline(r: Report, st: pd.DataFrame) -> list[Card]:
    """Return the headline cards (images, median age, drifted bases, newer tags, past end of
    life, fixable critical), from the assessment's summary (the figures `auditlib staleness`
    and `auditlib check` print), and record them in the summary."""
    s = r.assessment.summary()
    stale, eol, fixable = s["staleness"], s["eol"], s["fixable"]
    age = st["age_days"].dropna()
    scanned = s["coverage"]["vuln_scanned"]
    r.record(headline={
        "images": s["images"], "median_age_days": stale["median_age_days"],
        "base_drifted": stale["base_drifted"], "newer_tags": stale["newer_tags"],
        "os_eol": eol["past"], "os_eol_within_90_days": eol["within_90_days"],
        "os_eol_unknown": eol["unknown"], "fixable_critical": fixable["critical"],
        "vuln_scanned": scanned, "deployment_lag": stale["deployment_lag"],
        "rebuild_first": stale["rebuild_first"],
    })
    return [
        Card("images", f"{s['images']:,}"),
        Card("median age", f"{age.median():.0f} days" if len(age) else "-",
             f"oldest {age.max():.0f} days" if len(age) else "no build time known"),
        Card("base moved on", f"{stale['base_drifted']:,}", "base tag points at a newer image"),
        Card("newer tags", f"{stale['newer_tags']:,}", "images with a newer tag in their track"),
        Card("OS past end of life", f"{eol['past']:,}",
             f"{eol['within_90_days']:,} more within 90 days; {eol['unknown']:,} unknown"),
        Card("fixable critical", f"{fixable['critical']:,}" if scanned else "unknown",
             f"in the {scanned:,} images with a vulnerability scan" if scanned
             else "no image has a vulnerability scan"),
        Card("running on an old build", f"{stale['deployment_lag']:,}", "deployment lag"),
    ]


def age_figure(st: pd.DataFrame) -> go.Figure | None:
    """Return the histogram of image ages in days, with 30, 90 and 365 days marked."""
    age = st["age_days"].dropna()
    if age.empty:
        return None
    marks = {f"{d} days": float(d) for d in (30, 90, 365) if d <= age.max() * 1.05}
    return histogram(list(age), "Image age (days since the build)", x="days", marks=marks)


def base_age_figure(st: pd.DataFrame) -> go.Figure | None:
    """Return the histogram of base image ages, or None when no base build time is known."""
    age = st["base_age_days"].dropna()
    if age.empty:
        return None
    return histogram(list(age), "Base image age (days since the base was built)", x="days",
                     color="#9467bd")


def drift_figure(st: pd.DataFrame) -> go.Figure:
    """Return the bar chart of images whose base moved on, did not, or is unknown, and with or
    without newer tags."""
    drift = st["base_drifted"].map({True: "base moved on", False: "base current"}).fillna(
        "base unknown")
    tags = pd.Series("newer tags unknown", index=st.index)
    tags[st["newer_tag_count"].fillna(-1) == 0] = "no newer tag"
    tags[st["newer_tag_count"].fillna(0) > 0] = "newer tag exists"
    order = ["base moved on", "base current", "base unknown"]
    series = {t: [int(((drift == o) & (tags == t)).sum()) for o in order]
              for t in ("newer tag exists", "no newer tag", "newer tags unknown")}
    return stacked(order, series, "Base image drift and newer tags",
                   colors={"newer tag exists": "#d62728", "no newer tag": "#2ca02c",
                           "newer tags unknown": "#bdbdbd"}, y="images", height=360)


def drift_table(st: pd.DataFrame) -> pd.DataFrame:
    """Return the images whose base moved on or that have newer tags, most urgent first."""
    hit = st[st["base_drifted"].fillna(False).astype(bool) | (st["newer_tag_count"].fillna(0) > 0)]
    return pd.DataFrame({
        "image": hit["image_name"], "base": hit["base_ref"], "found by": hit["base_found_by"],
        "base moved on": hit["base_drifted"], "newer tags": hit["newer_tags"],
        "base's newer tags": hit["base_newer_tags"], "age (days)": hit["age_days"],
    })


def _os_label(st: pd.DataFrame) -> pd.Series:
    fam = st["os_family"].astype("string").fillna("unknown OS")
    ver = st["os_version"].astype("string").fillna("")
    return (fam + " " + ver).str.strip()


def eol_table(st: pd.DataFrame) -> pd.DataFrame:
    """Return one row per OS release: end of life (date, kind, source), days left (negative:
    past), images, and how many of them are past it, supported or unknown by their verdict
    (`os_end_of_life`: the table where it has the release, else the scanners)."""
    verdict = st["os_is_eol"].map({True: "past", False: "supported"}).fillna("unknown")
    df = st.assign(_os=_os_label(st), _v=verdict)
    g = df.groupby("_os", dropna=False)
    counts = pd.crosstab(df["_os"], df["_v"]).reindex(columns=["past", "supported", "unknown"],
                                                      fill_value=0)
    t = pd.DataFrame({
        "end of life": g["os_eol_date"].first(),
        "kind": g["os_eol_kind"].first().astype("string"),
        "days left": g["os_days_to_eol"].first(),
        "images": g.size(),
        "past end of life": counts["past"],
        "supported": counts["supported"],
        "unknown": counts["unknown"],
        "decided by": g["os_eol_by"].first().astype("string"),
        "source": g["os_eol_source"].first().astype("string"),
    }).reset_index().rename(columns={"_os": "OS"})
    return t.sort_values(["end of life", "OS"], na_position="last")


def eol_figure(st: pd.DataFrame, as_of: pd.Timestamp) -> go.Figure | None:
    """Return the end-of-life timeline: one marker per OS release at its end-of-life date,
    sized by its images, red when past, orange within 90 days; a line marks the as-of date."""
    t = eol_table(st).dropna(subset=["end of life"])
    if t.empty:
        return None
    days = t["days left"].fillna(0)
    color = ["#d62728" if d < 0 else "#ff9f1c" if d <= 90 else "#2ca02c" for d in days]
    size = (t["images"] / t["images"].max() * 30 + 8).tolist()
    hover = [f"{esc(o)}<br>end of life {e:%Y-%m-%d} ({esc(k)})<br>{n:,} images"
             for o, e, k, n in zip(t["OS"], t["end of life"], t["kind"].fillna("?"),
                                   t["images"], strict=True)]
    fig = go.Figure(go.Scatter(
        x=list(t["end of life"]), y=[esc(o) for o in t["OS"]], mode="markers",
        marker={"size": size, "color": color, "line": {"width": 1, "color": "#333"}},
        hovertext=hover, hoverinfo="text"))
    fig.add_vline(x=as_of, line_dash="dash", line_color="#555")
    fig.add_annotation(x=as_of, y=1.02, yref="paper", text="as of", showarrow=False)
    fig.update_yaxes(type="category", autorange="reversed")
    return styled(fig, "End of life of each OS release (marker size: images)",
                  height=max(260, 34 * len(t) + 140), x="end of support")


def priority_table(st: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """Return the `n` images to rebuild first: rank, priority and why, fixable counts, age,
    base drift and end of life."""
    top = st[st["rebuild_priority"].fillna(0) > 0].sort_values("priority_rank").head(n)
    return pd.DataFrame({
        "rank": top["priority_rank"], "image": top["image_name"],
        "priority": top["rebuild_priority"], "why": top["priority_reasons"],
        "fixable critical": top["fixable_critical"], "fixable high": top["fixable_high"],
        "fixable in base": top["fixable_in_base"], "fixable in own layers": top["fixable_in_own"],
        "age (days)": top["age_days"], "base moved on": top["base_drifted"],
        "OS past end of life": top["os_is_eol"],
    })


def priority_figure(st: pd.DataFrame, n: int = 20) -> go.Figure | None:
    """Return the horizontal bar chart of the `n` highest rebuild priorities."""
    top = st[st["rebuild_priority"].fillna(0) > 0].sort_values("priority_rank").head(n)
    if top.empty:
        return None
    hover = [f"{esc(i, 100)}<br>priority {p:,.0f}<br>{esc(w, 300)}"
             for i, p, w in zip(top["image_name"], top["rebuild_priority"],
                                top["priority_reasons"].fillna(""), strict=True)]
    return bar(list(top["image_name"]), list(top["rebuild_priority"]),
               f"Rebuild priority: the first {len(top)}", horizontal=True, hover=hover,
               colors="#d62728", x="priority (risk a rebuild removes)",
               height=max(300, 24 * len(top) + 120))


def deployment_lag(st: pd.DataFrame) -> pd.DataFrame:
    """Return the images running containers while a newer build of their repository exists."""
    lag = st[st["deployment_lag_days"].notna()].sort_values("deployment_lag_days",
                                                              ascending=False)
    return pd.DataFrame({
        "image": lag["image_name"], "repository": lag["repository"],
        "running containers": lag["running_containers"],
        "newer build": _short_ids(lag["newer_build_image_id"]),
        "lag (days)": lag["deployment_lag_days"],
    })


def no_lag_text(r: Report) -> str:
    """Return what the deployment lag section says when it has no row."""
    if not r.facts.containers_running:
        return ("no running container in the data: collect a Docker Engine "
                "(auditlib collect --engine URL) to see deployment lag")
    return "no running container is on an image older than its repository's newest build"


def read_history(r: Report) -> dict[str, pd.DataFrame]:
    """Return the store's history (the assessment's, read once for every trend of the page);
    the snapshot count goes to the summary.

    Raises:
        StoreError: if the store cannot be read.
    """
    h = r.assessment.history or {}
    r.record(history_snapshots=len(h.get(SNAPSHOTS, ())))
    return h


def _snapshot_count(h: dict[str, pd.DataFrame]) -> int:
    return len(h.get(SNAPSHOTS, ()))


def vulnerability_trend(h: dict[str, pd.DataFrame]) -> go.Figure | None:
    """Return vulnerabilities by severity over the store's snapshots (one line per severity,
    and the fixable ones dashed), or None with fewer than two snapshots."""
    if _snapshot_count(h) < 2:
        return None
    df: pd.DataFrame = history.vulnerability_counts(h)
    wide = df.pivot_table(index="snapshot_at", columns="severity", values="vulnerabilities",
                          aggfunc="sum", observed=False).fillna(0)
    series = {str(c): list(wide[c]) for c in SEVERITY_ORDER if c in wide.columns
              and wide[c].sum() > 0}
    fig = lines(list(wide.index), series, "Vulnerabilities by severity over the snapshots",
                colors=SEVERITY_COLORS, y_title="vulnerabilities")
    fixable = df.groupby("snapshot_at")["fixable"].sum()
    fig.add_trace(go.Scatter(x=list(fixable.index), y=list(fixable), name="fixable (all)",
                             mode="lines+markers", line={"dash": "dash", "color": "#333"}))
    return fig


def changes(h: dict[str, pd.DataFrame], last: int = 12) -> pd.DataFrame:
    """Return, for each of the `last` pairs of consecutive snapshots, how many vulnerabilities
    were new, fixed (the image is still there and no longer has them) and gone (the image
    went), by severity."""
    snaps = h["snapshots"]
    if len(snaps) < 2:
        return pd.DataFrame()
    ids = [str(i) for i in snaps["snapshot_id"]]
    at = dict(zip(ids, snaps["snapshot_at"], strict=True))
    rows = []
    for older, newer in list(zip(ids, ids[1:], strict=False))[-last:]:
        ch = history.vulnerability_changes(h, older, newer)
        counts = ch.groupby(["change", ch["severity"].astype(str)]).size()
        for key, n in counts.items():
            change, sev = cast(tuple[str, str], key)
            rows.append({"snapshot_at": at[newer], "snapshot": newer, "change": change,
                         "severity": sev, "vulnerabilities": int(n)})
    return pd.DataFrame(rows)


def changes_figure(h: dict[str, pd.DataFrame]) -> go.Figure | None:
    """Return new, fixed and gone vulnerabilities per snapshot, or None with fewer than two
    snapshots or no change."""
    df = changes(h)
    if df.empty:
        return None
    counts = df.pivot_table(index="snapshot_at", columns="change", values="vulnerabilities",
                            aggfunc="sum").fillna(0)
    colors = {"new": "#d62728", "fixed": "#2ca02c", "gone": "#9e9e9e"}
    when = [f"{t:%Y-%m-%d %H:%M}" for t in counts.index]
    fig = go.Figure([go.Bar(x=when, y=list(counts[c]), name=esc(c),
                            marker_color=colors.get(str(c))) for c in counts.columns])
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    return styled(fig, "New, fixed and gone vulnerabilities at each snapshot",
                  y="vulnerabilities")


def time_to_fix(h: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Return, per severity (worst first): vulnerabilities fixed over the history, the median
    and longest days to fix, and those still open."""
    if _snapshot_count(h) < 2:
        return pd.DataFrame()
    df: pd.DataFrame = history.time_to_fix(h)
    if df.empty:
        return df
    sev = df["severity"].astype(str)
    fixed = df["fixed_at"].notna()
    rows = []
    for s in SEVERITY_ORDER:
        mine = sev == s
        if not mine.any():
            continue
        days = df.loc[mine & fixed, "days_to_fix"].astype(float)
        rows.append({"severity": s, "fixed": int((mine & fixed).sum()),
                     "median days to fix": days.median() if len(days) else None,
                     "longest days to fix": days.max() if len(days) else None,
                     "still open": int((mine & ~fixed).sum())})
    return pd.DataFrame(rows)


def never_rebuilt(h: dict[str, pd.DataFrame], min_days: float = 30) -> pd.DataFrame:
    """Return the repositories whose current image did not change for at least `min_days` of
    the store's history, longest first."""
    if _snapshot_count(h) < 2:
        return pd.DataFrame()
    df: pd.DataFrame = history.never_rebuilt(h, min_days)
    return pd.DataFrame({
        "repository": df["repository"], "image": _short_ids(df["image_id"]),
        "built": df["created_at"], "current since": df["first_seen_at"],
        "snapshots": df["snapshots"], "unchanged for (days)": df["span_days"],
        "age (days)": df["age_days"],
    })


def staleness_trend_figure(h: dict[str, pd.DataFrame], repositories: int = 10
                           ) -> go.Figure | None:
    """Return the age of each repository's current image over the snapshots, for the
    `repositories` oldest at the newest snapshot; None with fewer than two snapshots."""
    if _snapshot_count(h) < 2:
        return None
    df: pd.DataFrame = history.staleness_trend(h)
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
    return lines(list(wide.index), {str(c): list(wide[c]) for c in keep if c in wide.columns},
                 f"Age of the current image of the {len(keep)} oldest repositories",
                 y_title="days since the build")

"""What the staleness report shows, from the report's assessment: its `staleness` table (one
row per image) and its end-of-life verdicts. The base drift section is in
`auditlib.reports.staleness_drift`, the trends over the store's snapshots in
`auditlib.reports.staleness_trends`.

Unknown is a third state beside good and bad (design.md section 10, issue 12): every card,
sentence, table and chart over images that lack the data it needs says how many it could not
judge (`auditlib.reports.staleness_unknowns`, read from the table's missing values), charts
show them as a grey category of their own, and nothing unknown is counted as a zero or a pass.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from auditlib.fleet.names import short_id
from auditlib.reports.context import Report
from auditlib.reports.figures import (
    UNKNOWN_COLOR,
    bar,
    duration_histogram,
    esc,
    format_days,
    styled,
)
from auditlib.reports.markup import Card
from auditlib.reports.staleness_unknowns import (
    NOT_SCANNED,
    Unknowns,
    any_of,
    base_unknown_words,
    images,
    unknowns,
    yes_no,
)

SEVERITY_ORDER = ("critical", "high", "medium", "low", "negligible", "unknown")


def _short_ids(ids: pd.Series) -> pd.Series:
    """Return image ids as `fleet.names.short_id` shows them (missing stays missing)."""
    return ids.astype("string").map(short_id, na_action="ignore").astype("string")


def staleness_table(r: Report) -> pd.DataFrame:
    """Return the `staleness` table of the report's assessment (one row per image, by rebuild
    priority): the same table `auditlib staleness` prints for the same store, time and policy."""
    return r.assessment.staleness


def _of(n: int, what: str) -> str:
    return f"{n:,} {what}"


def _engine_read(r: Report) -> bool:
    """Return whether the data has an engine's view of which containers run (the view's one
    definition, `FleetView.engine_hosts`)."""
    return bool(r.assessment.view.engine_hosts)


def headline(r: Report, st: pd.DataFrame) -> list[Card]:
    """Return the headline cards (images, median age, drifted bases, newer tags, past end of
    life, fixable critical, deployment lag), from the assessment's summary (the figures
    `auditlib staleness` and `auditlib check` print), each saying how many images it could not
    judge, and record them in the summary (an unknown figure is recorded as None)."""
    s = r.assessment.summary()
    stale, eol, fixable = s["staleness"], s["eol"], s["fixable"]
    u = unknowns(st)
    n = s["images"]
    age = st["age_days"].dropna()
    scanned = s["coverage"]["vuln_scanned"]
    engine = _engine_read(r)
    r.record(headline={
        "images": n, "median_age_days": stale["median_age_days"],
        "no_build_time": u.no_build_time,
        "base_drifted": stale["base_drifted"] if u.drift_known else None,
        "base_drift_unknown": n - u.drift_known, "base_unknown": u.base_unknown,
        "newer_tags": stale["newer_tags"] if u.newer_tags_unknown < n else None,
        "newer_tags_unknown": u.newer_tags_unknown,
        "os_eol": eol["past"], "os_eol_within_90_days": eol["within_90_days"],
        "os_eol_unknown": eol["unknown"],
        "fixable_critical": fixable["critical"] if scanned else None,
        "vuln_scanned": scanned, "vuln_not_scanned": n - scanned,
        "deployment_lag": stale["deployment_lag"] if engine else None,
        "rebuild_first": stale["rebuild_first"],
    })
    return [
        Card("image" if n == 1 else "images", f"{n:,}"),
        _age_card(age, u),
        _drift_card(stale["base_drifted"], u, st),
        _newer_tags_card(stale["newer_tags"], u),
        Card("OS past end of life", f"{eol['past']:,}" if eol["unknown"] < n else "unknown",
             f"{eol['within_90_days']:,} more within 90 days; {eol['unknown']:,} unknown"),
        _fixable_card(fixable["critical"], scanned, n),
        _lag_card(stale["deployment_lag"], engine, st),
    ]


def _age_card(age: pd.Series, u: Unknowns) -> Card:
    if age.empty:
        return Card("median age", "unknown",
                    f"no build time known for {any_of(u.images)}")
    note = f"oldest {format_days(age.max())}"
    if u.no_build_time:
        note += f"; {_of(u.no_build_time, 'with no build time')}"
    return Card("median age", format_days(age.median()), note)


def _drift_card(drifted: int, u: Unknowns, st: pd.DataFrame) -> Card:
    why = base_unknown_words(st)
    if not u.drift_known:
        return Card("base moved on", "unknown",
                    f"not known for {any_of(u.images)}: {why}")
    note = "base tag points at a newer image"
    if why:
        note += f"; {u.drift_known:,} checked, unknown for {u.images - u.drift_known:,} ({why})"
    return Card("base moved on", f"{drifted:,}", note)


def _newer_tags_card(newer: int, u: Unknowns) -> Card:
    if u.newer_tags_unknown == u.images:
        return Card("newer tags", "unknown",
                    f"no repository's tags collected for {any_of(u.images)}")
    note = "images with a newer tag in their track"
    if u.newer_tags_unknown:
        note += f"; {_of(u.newer_tags_unknown, 'unknown')} (repository's tags not collected)"
    return Card("newer tags", f"{newer:,}", note)


def _fixable_card(critical: int, scanned: int, n: int) -> Card:
    if not scanned:
        return Card("fixable critical", "unknown",
                    f"no image has a vulnerability scan ({n:,} not scanned)")
    if scanned < n:
        return Card("fixable critical", f"{critical:,}",
                    f"in {images(scanned)} scanned; {n - scanned:,} not scanned")
    return Card("fixable critical", f"{critical:,}",
                f"in {images(scanned)}, all with a vulnerability scan")


def _lag_card(lag: int, engine: bool, st: pd.DataFrame) -> Card:
    if not engine:
        return Card("running on an old build", "unknown",
                    "no engine collected: which images run is unknown")
    undated = int(((st["running_containers"].fillna(0) > 0) & st["age_days"].isna()).sum())
    note = "deployment lag"
    if undated:
        note += f"; unknown for {images(undated)} running with no build time"
    return Card("running on an old build", f"{lag:,}", note)


def notes(r: Report, *texts: str | None) -> None:
    """Show each text that is not empty as a note (what a section could not judge)."""
    for t in texts:
        if t:
            r.note(t)


def age_figure(st: pd.DataFrame) -> go.Figure | None:
    """Return the histogram of image ages (in the unit their range calls for), with 30, 90 and
    365 days marked and the images with no build time as a grey bar; None when no image has
    a build time."""
    age = st["age_days"]
    if not age.notna().any():
        return None
    undated = int(age.isna().sum())
    return duration_histogram(list(age.dropna()), "Image age (time since the build)",
                              since="since the build",
                              marks={f"{d} days": float(d) for d in (30, 90, 365)},
                              unknown=undated, unknown_label="no build time",
                              subtitle=f"grey: {images(undated)} with no build time"
                              if undated else None)


def no_age_text(st: pd.DataFrame) -> str:
    """Return what the age section says when no image has a build time."""
    return f"no build time known for {any_of(len(st))}: age unknown"


def base_age_figure(st: pd.DataFrame) -> go.Figure | None:
    """Return the histogram of base image ages, with the images whose base or its build time
    is unknown as a grey bar; None when no base build time is known."""
    age = st["base_age_days"]
    if not age.notna().any():
        return None
    undated = int(age.isna().sum())
    return duration_histogram(list(age.dropna()),
                              "Base image age (time since the base was built)",
                              since="since the base was built", color="#9467bd",
                              unknown=undated, unknown_label="unknown",
                              subtitle=f"grey: {images(undated)} whose base or its build time "
                              "is unknown" if undated else None)


def no_base_age_text(st: pd.DataFrame) -> str:
    """Return what the base age section says when no base build time is known, and why."""
    u = unknowns(st)
    not_in_data = int((st["base_found_by"].notna() & st["base_image_id"].isna()).sum())
    parts = [p for p in (
        _of(u.base_unknown, "with no known base") if u.base_unknown else "",
        _of(not_in_data, "whose base image is not in the data (named by a label or a "
            "Dockerfile, not collected)") if not_in_data else "",
    ) if p]
    return (f"no base image build time known for {any_of(len(st))}: "
            f"{'; '.join(parts) or 'the base images have no build time'}")


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
    sized by its images, red when past, orange within 90 days; a line marks the as-of date.
    The title says how many images have no end-of-life date and are not on it."""
    t = eol_table(st).dropna(subset=["end of life"])
    if t.empty:
        return None
    days = t["days left"].fillna(0)
    color = ["#d62728" if d < 0 else "#ff9f1c" if d <= 90 else "#2ca02c" for d in days]
    size = (t["images"] / t["images"].max() * 30 + 8).tolist()
    hover = [f"{esc(o)}<br>end of life {e:%Y-%m-%d} ({esc(k)})<br>{images(n)}"
             for o, e, k, n in zip(t["OS"], t["end of life"], t["kind"].fillna("?"),
                                   t["images"], strict=True)]
    fig = go.Figure(go.Scatter(
        x=list(t["end of life"]), y=[esc(o) for o in t["OS"]], mode="markers",
        marker={"size": size, "color": color, "line": {"width": 1, "color": "#333"}},
        hovertext=hover, hoverinfo="text"))
    fig.add_vline(x=as_of, line_dash="dash", line_color="#555")
    fig.add_annotation(x=as_of, y=1.0, yref="paper", yanchor="bottom", text="as of",
                       showarrow=False)
    fig.update_yaxes(type="category", autorange="reversed")
    left_out = len(st) - int(t["images"].sum())
    return styled(fig, "End of life of each OS release (marker size: images)",
                  height=max(260, 34 * len(t) + 140), x="end of support",
                  subtitle=f"not shown: {images(left_out)} with no end-of-life date"
                  if left_out else None)


def no_eol_text(st: pd.DataFrame) -> str:
    """Return what the end-of-life section says when no OS release has a date."""
    return (f"no OS release with a known end-of-life date: end of life unknown for "
            f"{any_of(len(st))}")


def _pair(st: pd.DataFrame, first: str, second: str) -> list[str]:
    """Return `a / b` of two fixable counts per image, or why they are unknown."""
    return [f"{a} / {b}" if isinstance(a, int) and isinstance(b, int) else str(a)
            for a, b in zip(_layer_split(st, first), _layer_split(st, second), strict=True)]


def _layer_split(st: pd.DataFrame, col: str) -> list[object]:
    """Return a fixable count per image (of a severity, or in the base's or own layers), or
    why it is unknown: not scanned, or no layer data to split by."""
    out: list[object] = []
    for v, n, base, base_id in zip(st[col], st["fixable_count"], st["base_found_by"],
                                   st["base_image_id"], strict=True):
        if not pd.isna(v):
            out.append(int(v))
        elif pd.isna(n):
            out.append(NOT_SCANNED)
        elif int(n) == 0:
            out.append(0)
        elif pd.isna(base):
            out.append("unknown: base unknown")
        elif pd.isna(base_id):
            out.append("unknown: no layer data for the base")
        else:
            out.append("unknown: no layer data for the image's packages")
    return out


def priority_table(st: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """Return the `n` images to fix first (the assessment's one ranking, as on the compliance
    page): rank, risk, why and what to do, fixable counts
    (critical / high, in the base's / own layers, or why unknown), age, base drift and end of
    life (yes, no or unknown)."""
    top = st[st["rebuild_priority"].fillna(0) > 0].sort_values("priority_rank").head(n)
    return pd.DataFrame({
        "rank": top["priority_rank"], "image": top["image_name"],
        "risk": top["rebuild_priority"].astype(float).round(0), "why": top["priority_reasons"],
        "what to do": top["priority_actions"],
        "fixable critical / high": _pair(top, "fixable_critical", "fixable_high"),
        "fixable in base / own layers": _pair(top, "fixable_in_base", "fixable_in_own"),
        "age (days)": top["age_days"], "base moved on": yes_no(top["base_drifted"]),
        "OS past end of life": yes_no(top["os_is_eol"]),
    }, index=top.index)


def priority_figure(st: pd.DataFrame, n: int = 20) -> go.Figure | None:
    """Return the horizontal bar chart of the `n` highest rebuild priorities: grey for an
    image with no vulnerability scan (its priority counts no vulnerability)."""
    top = st[st["rebuild_priority"].fillna(0) > 0].sort_values("priority_rank").head(n)
    if top.empty:
        return None
    unscanned = top["fixable_count"].isna().to_numpy(dtype=bool)
    hover = [f"{esc(i, 100)}<br>priority {p:,.0f}<br>{esc(w, 300)}"
             + ("<br>not vulnerability-scanned: no vulnerability counted" if u else "")
             for i, p, w, u in zip(top["image_name"], top["rebuild_priority"],
                                   top["priority_reasons"].fillna(""), unscanned, strict=True)]
    grey = int(unscanned.sum())
    return bar(list(top["image_name"]), list(top["rebuild_priority"]),
               f"Rebuild priority: the first {len(top)}", horizontal=True, hover=hover,
               colors=[UNKNOWN_COLOR if u else "#d62728" for u in unscanned],
               x="priority (risk a rebuild removes)", height=max(220, 24 * len(top) + 150),
               subtitle=f"grey: {images(grey)} not vulnerability-scanned (no vulnerability "
               "counted)" if grey else None)


def _priority_unknown_words(u: Unknowns) -> list[str]:
    parts = []
    if u.not_scanned:
        parts.append(f"{images(u.not_scanned)} not vulnerability-scanned (their fixable "
                     "vulnerabilities unknown)")
    if u.drift_unknown or u.base_unknown:
        parts.append(f"{u.images - u.drift_known:,} with base drift unknown")
    if u.eol_unknown:
        parts.append(f"{u.eol_unknown:,} with no known end of life")
    return parts


def priority_unknown_text(st: pd.DataFrame) -> str:
    """Return what the priority ranking could not weigh: the images whose priority leaves out
    an unknown part (empty when nothing is unknown, or no image has a priority: then
    `no_priority_text` says it)."""
    parts = _priority_unknown_words(unknowns(st))
    if not parts or not (st["rebuild_priority"].fillna(0) > 0).any():
        return ""
    return "the ranking weighs only what is known: " + "; ".join(parts)


def no_priority_text(st: pd.DataFrame) -> str:
    """Return what the priority section says when no image has a priority: "nothing to
    rebuild" only when nothing that makes up a priority is unknown."""
    u = unknowns(st)
    if not u.priority_unknown:
        return ("nothing to rebuild: every image is vulnerability-scanned with no fixable "
                "vulnerability, its base current and its OS supported")
    return ("no image has a known reason to be rebuilt, but the data cannot tell for all: "
            + "; ".join(_priority_unknown_words(u)))


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
    if not _engine_read(r):
        return ("deployment lag unknown: no engine collected, so which images run is unknown "
                "(auditlib collect --engine URL)")
    if not r.facts.containers_running:
        return "no running container on the engines collected"
    return "no running container is on an image older than its repository's newest build"


def lag_unknown_text(st: pd.DataFrame) -> str:
    """Return how many images run containers with no build time (their lag unknown), or ''."""
    undated = int(((st["running_containers"].fillna(0) > 0) & st["age_days"].isna()).sum())
    if not undated:
        return ""
    return (f"{images(undated)} running containers with no build time: whether a newer "
            "build exists is unknown")


"""One end-of-life verdict per image: the `os_end_of_life` table every face reads.

Two sources speak of an image's OS: the dated end-of-life table (`auditlib.eol.table`, read at the
as-of time) and the scanners' own flags (Trivy's `Metadata.OS.EOSL`, Grype's distro-eol alert,
each true or false as of when the scanner ran, by the scanner's own data). They can disagree: a
scan from before the end of support says "supported" for ever after; a scanner's data may be older
or newer than the table. The rule:

1. When the table has the release (a date, or an explicit true/false), the table decides: it is
   dated, refreshable (`auditlib eol update`) and read at the as-of time. A scanner that said
   otherwise is named in the evidence.
2. Else, when a scanner says, the scanners decide: past its end of life if any says so.
3. Else the verdict is unknown (no OS, a rolling release, a release the table lacks and no
   scanner flag): unknown is its own state, never "supported".
"""

from __future__ import annotations

import pandas as pd

from auditlib.data import AuditData
from auditlib.eol.table import EolInfo, EolTable, Kind
from auditlib.normalize.times import utc_day
from auditlib.tables import OS_END_OF_LIFE, frame

_TOOLS = {"trivy": "Trivy", "grype": "Grype", "syft": "Syft", "harbor": "Harbor",
          "cyclonedx": "CycloneDX", "spdx": "SPDX", "sarif": "SARIF"}


def _tool(source_format: str) -> str:
    name = source_format.split("@", 1)[0].removesuffix("-json")
    return _TOOLS.get(name, name)


def scanner_statements(data: AuditData) -> pd.DataFrame:
    """Return what the documents say of each image's end of life: one row per image, tool and
    flag (image_id, tool, is_os_eol), from image rows and `scans` rows that carry a flag."""
    parts = []
    for df in (data.images, data.scans):
        rows = df[["image_id", "is_os_eol", "source_format"]].dropna()
        parts.append(pd.DataFrame({
            "image_id": rows["image_id"].astype(str).to_numpy(),
            "tool": [_tool(str(s)) for s in rows["source_format"]],
            "is_os_eol": rows["is_os_eol"].astype(bool).to_numpy(),
        }))
    return pd.concat(parts, ignore_index=True).drop_duplicates()


def _os_name(family: str | None, version: str | None) -> str:
    return " ".join(x for x in (family, version) if x) or "the OS"


def _table_words(info: EolInfo, as_of: pd.Timestamp) -> tuple[bool, str]:
    """Return (past its end of life, the table's words) for a release the table has."""
    what = {"security": "security support", "standard": "support", "lts": "LTS support",
            "esm": "ESM support"}.get(info.kind, "support")
    day = as_of.date()
    ended = info.is_eol(day)
    if info.eol_date is None:
        words = (f"{what} has ended (the table gives no date)" if ended
                 else f"{what} has no end date yet")
    elif ended:
        ago = -(info.days_to_eol(day) or 0)
        words = f"{what} ended {info.eol_date.isoformat()}, {ago} days ago"
    else:
        words = f"{what} ends {info.eol_date.isoformat()}, in {info.days_to_eol(day)} days"
    return ended, f"{words} ({info.source})"


def eol_verdicts(images: pd.DataFrame, said: pd.DataFrame, table: EolTable,
                 as_of: pd.Timestamp, kind: Kind = "standard") -> pd.DataFrame:
    """Return the `os_end_of_life` table, indexed by image id (module docstring for the rule).

    Args:
        images: one row per image (index image_id) with os_family and os_version.
        said: the scanners' flags (`scanner_statements`).
        table: the end-of-life table.
        as_of: the moment the verdict is for (UTC).
        kind: which end of support counts (`standard` or `extended`).
    """
    flags: dict[str, dict[bool, set[str]]] = {}
    for iid, tool, flag in zip(said["image_id"], said["tool"], said["is_os_eol"], strict=True):
        flags.setdefault(str(iid), {}).setdefault(bool(flag), set()).add(str(tool))
    day = utc_day(as_of)
    cols: dict[str, list[object]] = {c: [] for c in OS_END_OF_LIFE.column_names}
    for image_id, family, version in zip(images.index, images["os_family"], images["os_version"],
                                         strict=True):
        fam = None if pd.isna(family) else str(family)
        ver = None if pd.isna(version) else str(version)
        by = flags.get(str(image_id), {})
        scanner = True if True in by else (False if False in by else None)
        tools = sorted(by.get(scanner, set())) if scanner is not None else []
        info = table.lookup(fam, ver, kind) if fam and ver else None
        os_name = _os_name(fam, ver)
        is_eol: bool | None
        if info is not None and (info.eol_date is not None or info.ended is not None):
            is_eol, words = _table_words(info, as_of)
            by_what = "table"
            evidence = f"{os_name}: {words}"
            if scanner is not None and scanner != is_eol:
                others = "/".join(tools)
                evidence += (f"; {others} said {'it was' if scanner else 'it was not'} past its "
                             "end of life when it scanned: the table decides, as it is dated and "
                             "read at the as-of time (refresh it: auditlib eol update)")
            elif scanner is not None:
                evidence += f"; {'/'.join(tools)} agree{'s' if len(tools) == 1 else ''}"
        elif scanner is not None:
            is_eol, by_what = scanner, "scanner"
            state = "past its end of life" if scanner else "not past its end of life"
            evidence = (f"{'/'.join(tools)} say{'s' if len(tools) == 1 else ''} {os_name} is "
                        f"{state} (the end-of-life table has no date for it)")
        else:
            is_eol, by_what = None, None
            if not fam:
                evidence = "unknown: no source names the OS (distroless or scratch, or no scan)"
            elif not ver:
                evidence = f"unknown: {fam} without a version"
            else:
                evidence = (f"unknown: the end-of-life table has no {os_name} and no scanner "
                            "says")
        cols["image_id"].append(str(image_id))
        cols["os_family"].append(fam)
        cols["os_version"].append(ver)
        cols["os_is_eol"].append(is_eol)
        cols["os_eol_by"].append(by_what)
        has_date = info is not None and info.eol_date is not None
        cols["os_eol_date"].append(pd.Timestamp(info.eol_date, tz="UTC") if has_date
                                   and info is not None and info.eol_date else None)
        cols["os_eol_kind"].append(info.kind if info is not None else None)
        cols["os_eol_source"].append(info.source if info is not None else None)
        cols["os_days_to_eol"].append(float(info.days_to_eol(day) or 0)
                                      if has_date and info is not None and day else None)
        cols["scanner_eol"].append(scanner)
        cols["scanner_eol_tools"].append(", ".join(tools) or None)
        cols["os_eol_evidence"].append(evidence)
        cols["evaluated_at"].append(as_of)
    out = frame(OS_END_OF_LIFE, cols, len(cols["image_id"]))
    return out.set_index(pd.Index(cols["image_id"], name="image_id"), drop=False)

"""Whether Trivy can scan for vulnerabilities here: its vulnerability database, before a run
(`has_database`) and, when a run failed on it, by Trivy's own words (`database_failure`).

Two checks, because neither alone is enough. `trivy version -f json` lists `VulnerabilityDB` when
the database's `metadata.json` is in Trivy's cache (Trivy reads it from the cache folder it would
scan with, `TRIVY_CACHE_DIR` or `--cache-dir` included), which tells the usual case (no database
downloaded: offline) before anything runs. It does not open `trivy.db` nor compare the schema
version, so a run that asks for vulnerabilities may still fail on the database; Trivy then stops
before it scans anything, with one line that says so, and the run is made again without the
vulnerability scanner (`auditlib.scanners.runner`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NO_DATABASE = "no vulnerability database (offline)"
"""The reason when Trivy's vulnerability database is not in its cache: scans never download it
(`--skip-db-update`)."""

DOWNLOAD_HINT = "download it with `trivy image --download-db-only` (needs network access)"
"""How a user gets the database."""

# Trivy wraps every failure of its vulnerability database as `init error: DB error: ...`
# (pkg/commands/artifact/run.go, NewRunner and run; v0.76). What follows says which:
#   `database error: --skip-db-update cannot be specified on the first run`  (pkg/db/db.go: no
#       trivy.db or metadata.json in the cache);
#   `database error: validate error: --skip-db-update cannot be specified with the old DB schema.`
#   `database error: the version of DB schema doesn't match.`  (a database of another schema);
#   `failed to download vulnerability DB: ...`  (offline without --skip-db-update);
#   `error in vulnerability DB initialization: failed to open db: ...`  (a damaged trivy.db).
_DB_ERROR = "init error: DB error: "
_FIRST_RUN = "cannot be specified on the first run"
_DOWNLOAD = "failed to download vulnerability DB"
_MAX_SAID = 300


def has_database(details: Mapping[str, Any]) -> bool:
    """Return whether `trivy version -f json` (its parsed output, `details`) lists a
    vulnerability database in Trivy's cache."""
    return bool(details.get("VulnerabilityDB"))


def database_failure(stderr: str) -> str | None:
    """Return why a Trivy run could not use its vulnerability database, as the reason a
    limitation gives (`NO_DATABASE`, `no vulnerability database (download failed)`, or
    `vulnerability database unusable (<Trivy's words>)`); None when `stderr` says no such thing.
    """
    for line in reversed(stderr.splitlines()):
        at = line.find(_DB_ERROR)
        if at < 0:
            continue
        said = line[at + len(_DB_ERROR):].strip()
        if _FIRST_RUN in said:
            return NO_DATABASE
        if said.startswith(_DOWNLOAD):
            return "no vulnerability database (download failed)"
        if len(said) > _MAX_SAID:
            said = said[:_MAX_SAID] + "..."
        return f"vulnerability database unusable ({said})"
    return None

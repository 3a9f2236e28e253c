"""The `vulnerabilities.fix_contradicted` column: a scanner says `fixed`, yet the fix is installed.

Computed once per chunk of vulnerability rows as the loader builds them, one comparison per
distinct (package type, installed version, fixed versions): a fleet repeats the same findings
image after image.
"""

from __future__ import annotations

import pandas as pd

from auditlib.versions.order import fix_contradicted


def contradicted_fixes(v: pd.DataFrame) -> pd.Series:
    """Return the `fix_contradicted` column of a `vulnerabilities` frame.

    Args:
        v: vulnerability rows with `fix_state`, `package_type`, `pkg_version`, `fixed_version`.

    Returns:
        A nullable boolean Series on `v`'s index: True where the row is `fixed` but the installed
        version is not below any fixed version (`auditlib.versions.fix_contradicted`), False where
        it is below one, missing elsewhere (not `fixed`, or no order to compare by).
    """
    out = pd.Series(pd.NA, index=v.index, dtype="boolean")
    if v.empty:
        return out
    rows = ((v["fix_state"] == "fixed") & v["fixed_version"].notna() & v["pkg_version"].notna()
            & v["package_type"].notna()).fillna(False).to_numpy(bool)
    if not rows.any():
        return out
    keys = zip(v["package_type"].to_numpy(object)[rows], v["pkg_version"].to_numpy(object)[rows],
               v["fixed_version"].to_numpy(object)[rows], strict=True)
    seen: dict[tuple[str, str, str], bool | None] = {}
    found = []
    for key in keys:
        if key not in seen:
            seen[key] = fix_contradicted(str(key[0]), str(key[1]), str(key[2]))
        found.append(seen[key])
    out.loc[rows] = pd.array(found, dtype="boolean")
    return out

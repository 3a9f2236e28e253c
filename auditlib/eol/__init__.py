"""End of life of OS releases: the dated table (`table`), its file format (`schema`), how OS
versions map to release cycles (`versions`), refreshing it (`update`), and the one verdict per
image that every face reads (`verdict`).
"""

from auditlib.eol.schema import EolDataError
from auditlib.eol.table import (
    EolInfo,
    EolTable,
    bundled_path,
    cache_path,
    default_table,
    load_table,
    lookup,
)

__all__ = [
    "EolDataError", "EolInfo", "EolTable", "bundled_path", "cache_path", "default_table",
    "load_table", "lookup",
]

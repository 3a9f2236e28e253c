"""`EngineError`."""

from auditlib.errors import AuditlibError


class EngineError(AuditlibError):
    """An engine could not start or could not run a query (its name and why are in the text)."""

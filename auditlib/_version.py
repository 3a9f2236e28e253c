"""The version of auditlib: written into every snapshot's manifest and every report's summary;
pyproject.toml reads it from here."""

__version__ = "0.1.0"

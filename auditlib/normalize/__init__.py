"""Normalisers that every parser uses on the way in: severity, fix state, CVSS, time, licences,
package versions."""

from auditlib.normalize.cvss import CvssScore, best_cvss
from auditlib.normalize.fix_state import FIX_STATES, fix_state_from_grype, fix_state_from_trivy
from auditlib.normalize.licenses import LICENSE_CLASSES, LicenseInfo, classify_license
from auditlib.normalize.pkg_versions import distro_version, join_evr, version_scheme
from auditlib.normalize.severity import SEVERITIES, SEVERITY_DTYPE, normalize_severity

__all__ = [
    "FIX_STATES",
    "LICENSE_CLASSES",
    "SEVERITIES",
    "SEVERITY_DTYPE",
    "CvssScore",
    "LicenseInfo",
    "best_cvss",
    "classify_license",
    "distro_version",
    "fix_state_from_grype",
    "fix_state_from_trivy",
    "join_evr",
    "normalize_severity",
    "version_scheme",
]

"""Running the scanners (`auditlib scan`): syft, trivy, grype and hadolint on images and
Dockerfiles, with their raw outputs kept in the store by image id, tool and tool version.

`run_scans(targets, store)` runs them and says, per (target, tool) job, what became of it and what
its output could not cover (`Limitation`: Trivy without its vulnerability database); the outputs
it lists (`ScanReport.raw_files`) are read with `auditlib.load`.
"""

from auditlib.scanners._archive_id import read_archive_image_id
from auditlib.scanners.limits import Limitation
from auditlib.scanners.raw_store import RawStore, dockerfile_key, image_key
from auditlib.scanners.report import JobResult, JobStatus, ScanReport
from auditlib.scanners.runner import run_scans
from auditlib.scanners.targets import (
    Dockerfile,
    EngineImage,
    EngineUnreachableError,
    ImageArchive,
    Target,
    connect_engine,
    tagged_images,
)
from auditlib.scanners.tools import (
    TOOLS,
    TRIVY_OFFLINE_SCANNERS,
    TRIVY_SCANNERS,
    ScanError,
    ScanSettings,
    TargetError,
    TargetKind,
    Tool,
    ToolError,
    ToolInfo,
)

__all__ = [
    "TOOLS",
    "TRIVY_OFFLINE_SCANNERS",
    "TRIVY_SCANNERS",
    "Dockerfile",
    "EngineImage",
    "EngineUnreachableError",
    "ImageArchive",
    "JobResult",
    "JobStatus",
    "Limitation",
    "RawStore",
    "ScanError",
    "ScanReport",
    "ScanSettings",
    "Target",
    "TargetError",
    "TargetKind",
    "Tool",
    "ToolError",
    "ToolInfo",
    "connect_engine",
    "dockerfile_key",
    "image_key",
    "read_archive_image_id",
    "run_scans",
    "tagged_images",
]

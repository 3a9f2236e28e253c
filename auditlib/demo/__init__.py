"""A seeded synthetic fleet of container images.

`write_fleet(out_dir, images=N)` writes one set of Trivy reports and Syft SBOMs (the benchmarks
ingest it); `DemoHistory(out_dir, images=N).steps()` writes the fleet as it was at each of several
snapshots, with what a Docker Engine, a registry and Dockerfiles give (`auditlib demo` reports on
it). Everything either writes is marked synthetic.
"""

from auditlib.demo.fleet import README_NAME, FleetInfo, write_fleet
from auditlib.demo.history import DemoHistory, DemoStep

__all__ = ["README_NAME", "DemoHistory", "DemoStep", "FleetInfo", "write_fleet"]

"""A seeded synthetic fleet of container images, written as Trivy reports and Syft SBOMs.

`write_fleet(out_dir, images=N)` makes the demo data `auditlib demo` reports on and the benchmarks
ingest. Everything it writes is marked synthetic.
"""

from auditlib.demo.fleet import FleetInfo, write_fleet

__all__ = ["FleetInfo", "write_fleet"]

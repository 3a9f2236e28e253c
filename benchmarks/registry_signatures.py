"""What looking for signatures and attestations costs the registry collector.

    python benchmarks/registry_signatures.py [--images 100] [--runs 3]

Starts Debian's `docker-registry` on 127.0.0.1 (as the integration tests do), pushes N small
images, half of them signed and attested as cosign does (`tests/integration/cosign_shapes.py`:
a `.sig` signature, a `.att` with SLSA provenance and SPDX attestations), then times, in the same
run and alternating:

  (a) baseline   `collect_registry(artifacts=False)`: tags, manifests and configs only;
  (b) found      `collect_registry()`: also each image's cosign tags, referrers (the API, then
                 its fallback tag), with nothing verified (no key);
  (c) verified   `collect_registry(cosign_keys=[key])`: the same, each signature and
                 attestation verified (ECDSA P-256).

It prints the median of each over the runs and the ratios (b)/(a) and (c)/(a). There is no goal
in design.md for this: the figures say what the lookups cost (about four more requests per
image), for the README. It exits 0 when it could run, 1 when the registry could not start.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from auditlib.sources.registry import collect_registry
    from tests.integration import cosign_shapes as shapes
    from tests.integration.registry_server import Pusher, start_registry

    with tempfile.TemporaryDirectory(prefix="bench-signatures-") as tmp:
        try:
            registry_cm = start_registry(Path(tmp) / "registry")
            registry = registry_cm.__enter__()
        except Exception as e:  # the binary is missing, or it would not start
            print(f"cannot start docker-registry: {e}")
            return 1
        try:
            signer = shapes.Signer(Path(tmp), "cosign.pub")
            pusher = Pusher(registry)
            for i in range(args.images):
                digest = shapes.push_image(pusher, f"1.{i}")
                if i % 2 == 0:
                    shapes.push_signature(pusher, signer, digest)
                    shapes.push_attestations(pusher, signer, digest)
            repo = [f"{registry.host}/{shapes.REPO}"]
            key = signer.key()
            cases = {
                "baseline (no lookup)": lambda: collect_registry(repo, artifacts=False),
                "found (no key)": lambda: collect_registry(repo),
                "verified (one key)": lambda: collect_registry(repo, cosign_keys=[key]),
            }
            times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(args.runs):
                for name, run in cases.items():
                    started = time.perf_counter()
                    cols = run()
                    times[name].append(time.perf_counter() - started)
                    assert not cols[0].errors, cols[0].errors
                    assert len(cols[0].records) == args.images
        finally:
            registry_cm.__exit__(None, None, None)
    base = statistics.median(times["baseline (no lookup)"])
    print(f"registry collector, {args.images} images ({(args.images + 1) // 2} signed and "
          f"attested), median of {args.runs} runs:")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<22} {median:7.2f} s   x{median / base:.2f} of the baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())

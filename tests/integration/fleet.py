"""The integration fleet: images and containers built on the test's own engine, no pulls.

Each image is made to carry one practice (or one breach of it), so that the collectors' tables,
and later the policy, can be checked against what the construction implies:

- busybox, local/busybox:1.36: `docker import` of a busybox rootfs; a base, also run directly.
- debian, local/debian:12: a real Debian rootfs made with debootstrap (dpkg database).
- app, team/app:1.0: FROM busybox; non-root, healthcheck, OCI labels, a volume.
- worker, team/worker:latest: FROM debian; root, `:latest`, writes a config file.
- leaky, team/leaky:1: FROM busybox; secret-looking ENV values.
- multi, team/multi:2.0: multi-stage, a debian build stage and a busybox final stage.

Containers: `drifter` runs team/app:1.0 and writes `/etc/drift.conf` into its own filesystem
(and `/data/ok` into its volume); `direct` runs local/busybox:1.36 directly; `stopped` ran
team/worker:latest and exited.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.engine import Engine, build, busybox_rootfs, debian_rootfs, import_image

SECRET_VALUE = "hunter2-" + "s3cr3t-value"
"""The value of the secret-looking ENV: it must never reach a table."""
FAKE_PAT = "ghp_" + "abcdefghijklmnopqrstuvwxyzABCDEF0123"

DOCKERFILES = {
    "app": """\
FROM local/busybox:1.36
LABEL org.opencontainers.image.source="https://example.test/team/app" \\
      org.opencontainers.image.revision="0123456789abcdef" \\
      org.opencontainers.image.base.name="local/busybox:1.36"
RUN mkdir -p /data /home/app && echo 'hello' > /home/app/index.html && chown -R 1000:1000 /data
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s CMD ["true"]
USER 1000:1000
CMD ["sleep", "3600"]
""",
    "worker": """\
FROM local/debian:12
RUN echo 'threads=4' > /etc/worker.conf
CMD ["sleep", "3600"]
""",
    "leaky": f"""\
FROM local/busybox:1.36
ENV DB_PASSWORD={SECRET_VALUE} \\
    DEPLOY_NOTE={FAKE_PAT} \\
    API_TOKEN_FILE=/run/secrets/token \\
    LOG_LEVEL=info
USER 1000
CMD ["sleep", "3600"]
""",
    "multi": """\
FROM local/debian:12 AS build
RUN echo 'built' > /artifact
FROM local/busybox:1.36
COPY --from=build /artifact /artifact
USER 1000
CMD ["sleep", "3600"]
""",
}

REFS = {
    "app": "team/app:1.0",
    "worker": "team/worker:latest",
    "leaky": "team/leaky:1",
    "multi": "team/multi:2.0",
}


@dataclass
class Fleet:
    """What was built: image ids by name, Dockerfile paths, container ids by name."""

    engine: Engine
    images: dict[str, str] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    dockerfiles: dict[str, Path] = field(default_factory=dict)
    containers: dict[str, str] = field(default_factory=dict)


def build_fleet(engine: Engine, workdir: Path) -> Fleet:
    """Build the fleet on `engine` (see the module docstring); return what was made."""
    fleet = Fleet(engine)
    fleet.images["busybox"] = import_image(
        engine, busybox_rootfs(), "local/busybox:1.36", 'CMD ["sh"]'
    )
    fleet.refs["busybox"] = "local/busybox:1.36"
    fleet.images["debian"] = import_image(
        engine, debian_rootfs().read_bytes(), "local/debian:12", 'CMD ["bash"]'
    )
    fleet.refs["debian"] = "local/debian:12"
    for name, text in DOCKERFILES.items():
        ctx = workdir / name
        fleet.images[name] = build(engine, ctx, REFS[name], text)
        fleet.refs[name] = REFS[name]
        fleet.dockerfiles[name] = ctx / "Dockerfile"
    client = engine.client
    drifter = client.containers.run(
        REFS["app"], ["sh", "-c", "echo x > /data/ok; echo y > /etc/drift.conf; sleep 3600"],
        name="drifter", detach=True, network_mode="none", user="0",
        restart_policy={"Name": "unless-stopped"},
    )
    direct = client.containers.run(
        "local/busybox:1.36", ["sleep", "3600"], name="direct", detach=True, network_mode="none",
    )
    stopped = client.containers.run(
        REFS["worker"], ["true"], name="stopped", detach=True, network_mode="none",
    )
    fleet.containers = {"drifter": drifter.id, "direct": direct.id, "stopped": stopped.id}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        drifter.reload()
        stopped.reload()
        changed = {c["Path"] for c in client.api.diff(drifter.id) or []}
        if "/etc/drift.conf" in changed and stopped.status == "exited":
            break
        time.sleep(0.2)
    return fleet

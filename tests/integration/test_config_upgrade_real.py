"""config-outside-image and upgrade-at-build on images built by the session's real engine (on the
integration fleet's bases): each image breaks or keeps a rule, and the statuses and evidence
are what its construction implies.

- h18/baked:1 copies app.conf and settings.yaml into its final stage; nothing mounts over them.
- h18/mounted:1 copies app.conf into /etc/app; its running container mounts a volume there.
- h18/datawriter:1 copies no configuration; its running container writes a database file under
  /var/lib/mysql into its own layer.
- h18/upgraded:1 runs `apt-get upgrade` in its final Debian stage, after a build stage (offline:
  nothing to upgrade, but the build runs it); h18/notupgraded:1 does not, and no vulnerability
  scan says what it lacks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from auditlib.ingest.collect import CollectRequest, collect
from auditlib.policy import Evaluation, evaluate, load_policy
from auditlib.policy.config import build_policy
from auditlib.policy.rules import RULES
from tests.integration.engine import build
from tests.integration.fleet import Fleet

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IMAGES = {
    "baked": ("h18/baked:1", """\
FROM local/busybox:1.36 AS base
FROM base
COPY app.conf /etc/app/app.conf
COPY settings.yaml ./
COPY main.sh /usr/local/bin/main.sh
USER 1000
CMD ["sleep", "3600"]
"""),
    "mounted": ("h18/mounted:1", """\
FROM local/busybox:1.36
WORKDIR /etc/app
COPY app.conf .
CMD ["sleep", "3600"]
"""),
    "datawriter": ("h18/datawriter:1", """\
FROM local/busybox:1.36
COPY main.sh /usr/local/bin/main.sh
CMD ["sleep", "3600"]
"""),
    "upgraded": ("h18/upgraded:1", """\
FROM local/debian:12 AS build
RUN echo built > /artifact
FROM local/debian:12
RUN apt-get upgrade -y
COPY --from=build /artifact /artifact
CMD ["sleep", "3600"]
"""),
    "notupgraded": ("h18/notupgraded:1", """\
FROM local/busybox:1.36 AS build
RUN echo built > /artifact
FROM local/busybox:1.36
COPY --from=build /artifact /artifact
CMD ["sleep", "3600"]
"""),
}


@pytest.fixture(scope="module")
def built(engine_fleet: Fleet, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[dict[str, str], list[str]]]:
    """Build the images and start their containers; yield image ids by name, and the
    `--dockerfile PATH=REF` arguments; remove the containers, images and volume after (the
    engine is the session's: other tests list its containers and images)."""
    engine = engine_fleet.engine
    root = tmp_path_factory.mktemp("h18")
    ids, dockerfiles = {}, []
    for name, (ref, text) in IMAGES.items():
        ctx = root / name
        ctx.mkdir()
        (ctx / "app.conf").write_text("listen=8080\n")
        (ctx / "settings.yaml").write_text("level: info\n")
        (ctx / "main.sh").write_text("#!/bin/sh\n")
        ids[name] = build(engine, ctx, ref, text)
        dockerfiles.append(f"{ctx / 'Dockerfile'}={ref}")
    client = engine.client
    client.containers.run("h18/mounted:1", ["sleep", "3600"], name="h18-mounted", detach=True,
                          network_mode="none", volumes={"h18-config": {"bind": "/etc/app"}})
    writer = client.containers.run(
        "h18/datawriter:1", ["sh", "-c", "mkdir -p /var/lib/mysql && echo x > "
                             "/var/lib/mysql/ibdata1 && sleep 3600"],
        name="h18-writer", detach=True, network_mode="none")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "/var/lib/mysql/ibdata1" in {c["Path"] for c in client.api.diff(writer.id) or []}:
            break
        time.sleep(0.2)
    yield ids, dockerfiles
    for name in ("h18-mounted", "h18-writer"):
        client.containers.get(name).remove(force=True)
    for ref, _text in IMAGES.values():
        client.images.remove(ref, force=True)
    client.volumes.get("h18-config").remove(force=True)


@pytest.fixture(scope="module")
def data(built: tuple[dict[str, str], list[str]], engine_fleet: Fleet):  # type: ignore[no-untyped-def]
    got = collect(CollectRequest(engines=[engine_fleet.engine.url], dockerfiles=built[1]))
    assert not [f.error for f in got.files if f.error]
    return got


def _result(ev: Evaluation, image_id: str, rule: str) -> tuple[str, str]:
    r = ev.results
    row = r[(r["image_id"] == image_id) & (r["rule"] == rule)].iloc[0]
    return str(row["status"]), str(row["evidence"])


def test_config_outside_image_on_real_images(built: tuple[dict[str, str], list[str]],
                                             data) -> None:  # type: ignore[no-untyped-def]
    ids = built[0]
    ev = evaluate(data, load_policy(None))
    status, evidence = _result(ev, ids["baked"], "config-outside-image")
    assert status == "fail", evidence
    assert "line 3 COPY app.conf -> /etc/app/app.conf" in evidence
    # WORKDIR is the base image's, unknown here: the file's place is not resolved.
    assert "line 4 COPY settings.yaml -> a path not resolved" in evidence
    assert "main.sh" not in evidence and "no running container mounts over it" in evidence
    status, evidence = _result(ev, ids["mounted"], "config-outside-image")
    assert status == "pass", evidence
    assert "every running container mounts over it: line 3 COPY app.conf -> " \
        "/etc/app/app.conf" in evidence
    status, evidence = _result(ev, ids["datawriter"], "config-outside-image")
    assert status == "warn", evidence
    assert "h18-writer:/var/lib/mysql/ibdata1" in evidence
    # The fleet's base, run directly, has no Dockerfile and writes no data: no-data.
    busybox = data.images.loc[data.images["image_ref"].astype(str).str.endswith(
        "local/busybox:1.36"), "image_id"].iloc[0]
    assert _result(ev, str(busybox), "config-outside-image")[0] == "no-data"


def test_upgrade_at_build_on_real_images(built: tuple[dict[str, str], list[str]],
                                         data) -> None:  # type: ignore[no-untyped-def]
    ids = built[0]
    ev = evaluate(data, load_policy(None))
    status, evidence = _result(ev, ids["upgraded"], "upgrade-at-build")
    assert status == "pass" and "upgrades the distribution's packages" in evidence
    # No upgrade, and no scan says what it lacks.
    status, evidence = _result(ev, ids["notupgraded"], "upgrade-at-build")
    assert status == "warn" and "no vulnerability scan" in evidence
    pin = evaluate(data, build_policy({"rules": {"upgrade-at-build": {"stance": "pin"}}},
                                      RULES, "pin.yaml"))
    assert _result(pin, ids["upgraded"], "upgrade-at-build")[0] == "fail"
    assert _result(pin, ids["notupgraded"], "upgrade-at-build")[0] == "pass"
    assert _result(pin, ids["baked"], "upgrade-at-build")[0] == "pass"

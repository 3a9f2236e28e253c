"""`auditlib run --notify` against the session's real engine: the base tag an image was built on
moves between two runs, and the digest a local HTTP receiver gets says so, item by item.

h18n/base:1 is a busybox rootfs imported on the engine; h18n/app:1 is built FROM it and names it
in its `org.opencontainers.image.base.name` label. Between the runs, h18n/base:1 is imported
again with another config: the tag moves to a new image, and the app still runs on the old one.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

from auditlib.cli import main
from tests.integration.engine import Engine, build, busybox_rootfs, import_image
from tests.notify.receivers import http_receiver
from tests.notify.test_notify_run import SCHEMA

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _run(engine: Engine, tmp: Path, as_of: str, url: str) -> Result:
    result = CliRunner().invoke(main, [
        "run", "--store", str(tmp / "store"), "--engine", engine.url, "--no-scan",
        "--out", str(tmp / "reports"), "--reports", "none", "--as-of", as_of,
        "--fail-on", "never", "--quiet", "--notify", f"{url}/hook"])
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == 0, result.output
    return result


def test_base_tag_moved_between_two_runs(docker_engine: Engine, tmp_path: Path) -> None:
    rootfs = busybox_rootfs()
    old = import_image(docker_engine, rootfs, "h18n/base:1", 'CMD ["sh"]')
    app = build(docker_engine, tmp_path / "app", "h18n/app:1", """\
FROM h18n/base:1
LABEL org.opencontainers.image.base.name="h18n/base:1"
RUN echo hello > /hello
CMD ["sleep", "3600"]
""")
    with http_receiver() as (url, got):
        first = _run(docker_engine, tmp_path, "2026-11-02T06:00:00+00:00", url)
        assert "first run of this store" in first.output and got.posts == []
        new = import_image(docker_engine, rootfs, "h18n/base:1", 'CMD ["sh"]', "ENV REBUILT=1")
        assert new != old
        _run(docker_engine, tmp_path, "2026-11-09T06:00:00+00:00", url)
        [(path, body)] = got.posts
    jsonschema.validate(body, SCHEMA)
    assert path == "/hook" and body["changed"] is True
    # The session's engine holds other images made from the same busybox layer: they are built
    # on the old base too, so the app is one of the images the move concerns.
    [moved] = body["base_moved"]
    assert (moved["base"], moved["was"], moved["now"]) == ("docker.io/h18n/base:1", old, new)
    assert "docker.io/h18n/app:1" in moved["images"]
    # The new base image is new to the store: its failures are listed as such (was: null).
    failing = {(r["image_id"], r["rule"], r["was"]) for r in body["rules_failing"]}
    assert (new, "non-root-user", None) in failing  # busybox's rootfs runs as root
    assert all(r["image_id"] != app for r in body["rules_fixed"])

"""Image names the way a person gives them (`auditlib.fleet.names`): `repository:tag` (a version
tag before `latest`), else `repository@digest` shortened, else the short id marked untagged; the
one definition every table, page and command reads."""

from __future__ import annotations

import pytest

from auditlib.assess import staleness
from auditlib.fleet.names import (
    UNTAGGED,
    digest_name,
    display_name,
    short_digest,
    short_id,
    shown_tag,
    untagged_name,
)
from auditlib.fleet.view import FleetView
from auditlib.history.views import _repositories
from auditlib.policy import evaluate, load_policy
from tests.policy.builders import AS_OF, make_data

ID = "sha256:972772258713" + "0" * 52
DIGEST = "sha256:abcdef123456" + "f" * 52
TAGGED, LATEST_ONLY, BY_DIGEST, UNNAMED = (f"sha256:{c * 64}" for c in "abcd")


@pytest.mark.parametrize(("refs", "name"), [
    # A version tag before `latest`, whatever the order given.
    (["docker.io/library/nginx:latest", "docker.io/library/nginx:1.27"],
     "docker.io/library/nginx:1.27"),
    (["docker.io/library/nginx:latest"], "docker.io/library/nginx:latest"),
    # A tag before a repo digest.
    ([f"docker.io/library/nginx@{DIGEST}", "docker.io/library/nginx:latest"],
     "docker.io/library/nginx:latest"),
    # Else the repo digest, shortened.
    ([f"ghcr.io/org/app@{DIGEST}"], "ghcr.io/org/app@sha256:abcdef123456"),
    # Else the short id, marked.
    ([], "<untagged> sha256:972772258713"),
    (["not a reference"], "<untagged> sha256:972772258713"),
])
def test_display_name_prefers_a_tag_then_a_repo_digest_then_the_marked_id(
        refs: list[str], name: str) -> None:
    assert display_name(ID, refs) == name


def test_the_short_forms() -> None:
    assert short_digest(DIGEST) == "sha256:abcdef123456"
    assert short_id(ID) == "972772258713"
    assert untagged_name(ID) == f"{UNTAGGED} sha256:972772258713"
    assert digest_name(f"r.test/a/b:1@{DIGEST}") == "r.test/a/b:1@sha256:abcdef123456"
    assert digest_name("r.test/a/b:1") == "r.test/a/b:1"
    assert shown_tag(["r.test/a:latest", "r.test/a:2", "r.test/a:1"]) == "r.test/a:2"
    assert shown_tag([]) is None


def _data():  # type: ignore[no-untyped-def]
    return make_data(
        images=[{"image_id": i, "host": "h"} for i in (TAGGED, LATEST_ONLY, BY_DIGEST, UNNAMED)],
        image_tags=[
            {"image_id": TAGGED, "reference": "r.test/team/app:latest"},
            {"image_id": TAGGED, "reference": "r.test/team/app:2.0"},
            {"image_id": TAGGED, "reference": f"r.test/team/app@{DIGEST}"},
            {"image_id": LATEST_ONLY, "reference": "r.test/team/web:latest"},
            {"image_id": BY_DIGEST, "reference": f"r.test/team/job@{DIGEST}",
             "registry": "r.test", "repository": "team/job", "repo_digest": DIGEST},
        ],
    )


NAMES = {
    TAGGED: "r.test/team/app:2.0",
    LATEST_ONLY: "r.test/team/web:latest",
    BY_DIGEST: "r.test/team/job@sha256:abcdef123456",
    UNNAMED: "<untagged> sha256:dddddddddddd",
}


def test_the_fleet_view_names_every_image_by_the_one_definition() -> None:
    view = FleetView(_data(), AS_OF)
    assert view.names == NAMES
    assert view.name(ID) == "<untagged> sha256:972772258713"  # an id no table names
    assert [view.shown_tag(i) for i in NAMES] == [
        "r.test/team/app:2.0", "r.test/team/web:latest", None, None]


def test_policy_and_staleness_show_the_same_names() -> None:
    data = _data()
    scores = evaluate(data, load_policy(None), as_of=AS_OF).scores
    assert dict(zip(scores["image_id"], scores["image_name"], strict=True)) == NAMES
    st = staleness(data, as_of=AS_OF).set_index("image_id")
    assert st["image_name"].to_dict() == NAMES
    # The repository is the shown tag's, whatever form the name takes: none for a name that is
    # not a tag (the repo digest's or the untagged one's text is never parsed back).
    assert st["repository"].astype(object).where(st["repository"].notna(), None).to_dict() == {
        TAGGED: "r.test/team/app", LATEST_ONLY: "r.test/team/web", BY_DIGEST: None,
        UNNAMED: None}


def test_history_follows_an_image_by_the_repository_its_name_shows() -> None:
    data = make_data(
        images=[{"image_id": TAGGED, "host": "h"}],
        image_tags=[
            {"image_id": TAGGED, "reference": "r.test/a/x:latest", "registry": "r.test",
             "repository": "a/x", "tag": "latest"},
            {"image_id": TAGGED, "reference": "r.test/b/y:1.0", "registry": "r.test",
             "repository": "b/y", "tag": "1.0"},
            {"image_id": BY_DIGEST, "reference": f"r.test/c/z@{DIGEST}", "registry": "r.test",
             "repository": "c/z", "repo_digest": DIGEST},
        ],
    )
    h = {"image_tags": data.image_tags, "images": data.images, "scans": data.scans}
    assert _repositories(h) == {TAGGED: "r.test/b/y", BY_DIGEST: "r.test/c/z"}
    assert FleetView(data, AS_OF).name(TAGGED) == "r.test/b/y:1.0"


"""check's JSON written one image at a time (`policy.output.write_json`) is the text the whole
document dumped at once gives, character for character."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from auditlib.policy import evaluate
from auditlib.policy import output as out
from auditlib.policy.config import build_policy
from auditlib.policy.evaluate import Evaluation
from auditlib.policy.rules import RULES
from auditlib.tables import jsonable
from tests.policy.builders import AS_OF, image_id, make_data


def _whole(ev: Evaluation) -> dict[str, Any]:
    """The document as `to_dict` made it before it was written one image at a time: every
    result as plain data, grouped by image, at once."""
    by_image: dict[str, list[dict[str, Any]]] = {}
    for row in ev.results.to_dict("records"):
        by_image.setdefault(str(row["image_id"]), []).append(
            {k: jsonable(row[k]) for k in out.RESULT_KEYS})
    counts = {s: ev.count(s) for s in ("pass", "fail", "warn", "waived", "no-data")}
    return {
        "as_of": ev.as_of.isoformat(), "policy": ev.policy.source,
        "rules": [r.rule.slug for r in ev.policy.enabled()],
        "summary": {"images": len(ev.scores), "results": counts,
                    "grades": {str(k): int(v) for k, v in
                               ev.scores["grade"].value_counts().sort_index().items()}},
        "images": [{**{k: jsonable(v) for k, v in s.items()},
                    "results": by_image.get(str(s["image_id"]), [])}
                   for s in ev.scores.to_dict("records")],
        "waivers": [{"rule": u.waiver.rule, "image": u.waiver.image, "reason": u.waiver.reason,
                     "expires": u.waiver.expires.isoformat() if u.waiver.expires else None,
                     "expired": u.expired, "matched": len(u.applied_to)} for u in ev.waivers],
        "errors": ev.errors,
    }


def _evaluation(images: int) -> Evaluation:
    ids = [image_id(i) for i in range(1, images + 1)]
    data = make_data(  # untrusted text: quotes, a line break, markup, non-ASCII, a bidi control
        images=[{"image_id": i, "user": "" if n % 2 else "app", "host": "h"}
                for n, i in enumerate(ids)],
        image_tags=[{"image_id": i, "reference": f"docker.io/team/app-{n}:1\"<b>&\u00e9\u202e"}
                    for n, i in enumerate(ids)],
    )
    raw = {"waivers": [{"rule": "non-root-user", "image": "docker.io/team/app-1*",
                        "reason": "a \"quoted\"\nreason", "expires": "2027-01-01"}]}
    return evaluate(data, build_policy(raw, RULES, "p\u00e9.yaml"), as_of=AS_OF)


@pytest.mark.parametrize("at_once", [1, 2, 1000])
def test_json_written_one_image_at_a_time_is_the_whole_documents_text(
        at_once: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(out, "IMAGES_AT_ONCE", at_once)
    ev = _evaluation(5)
    extra = {"assessment": {"images": 5, "nested": {"list": [1, {"a": None}], "empty": []},
                            "text": "line\nbreak"}}
    buf = io.StringIO()
    out.write_json(ev, buf, extra)
    assert buf.getvalue() == json.dumps({**_whole(ev), **extra}, indent=2)
    assert out.to_json(ev) == json.dumps(_whole(ev), indent=2)
    assert out.to_dict(ev) == _whole(ev)
    doc = json.loads(buf.getvalue())
    assert len(doc["images"]) == 5 and all(len(i["results"]) == len(RULES) for i in doc["images"])
    assert doc["waivers"][0]["matched"] == 1


def test_json_of_no_image() -> None:
    ev = _evaluation(0)
    assert out.to_json(ev) == json.dumps(_whole(ev), indent=2)
    assert json.loads(out.to_json(ev))["images"] == []

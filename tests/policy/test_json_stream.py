"""check's JSON written one image at a time (`policy.output.write_json`) is the text the whole
document dumped at once gives, character for character."""

from __future__ import annotations

import dataclasses
import io
import json
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
import pandas as pd
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


def _tricky(ev: Evaluation, bad_float: float | None, bad_text: str | None,
            nested: bool) -> Evaluation:
    """`ev` with cells that JSON writers disagree on: missing values, floats of every size,
    non-ASCII (an astral emoji, a line separator), control characters and DEL, quotes; its
    results out of image order, and the last image without any. The first image's score is
    `bad_float` and its name `bad_text` when given; with `nested`, a column of Python objects
    (lists, a dict, a time)."""
    n = len(ev.scores)
    floats = [FLOATS[i % len(FLOATS)] for i in range(n)]
    texts = [TEXTS[i % len(TEXTS)] for i in range(n)]
    if bad_float is not None:
        floats[0] = bad_float
    if bad_text is not None:
        texts[0] = bad_text
    scores = ev.scores.assign(
        score=pd.array(floats, dtype="Float64"),  # Arrow holds no lone surrogate:
        image_name=pd.array(texts, dtype="string" if bad_text is None else "string[python]"))
    if nested:
        scores["nested"] = pd.Series(
            [[1, [2.5, None], {"k\u00e9": pd.Timestamp("2026-01-02", tz="UTC")}]] * n,
            dtype=object, index=scores.index)
    results = ev.results.sample(frac=1.0, random_state=3)
    results = results[results["image_id"] != ev.scores["image_id"].iloc[-1]]
    m = len(results)
    results = results.assign(
        earned=pd.array([FLOATS[(i + 1) % len(FLOATS)] for i in range(m)], dtype="Float64"),
        points=pd.array([None if i % 4 == 0 else i for i in range(m)], dtype="Int64"),
        evidence=pd.array([TEXTS[(i + 2) % len(TEXTS)] for i in range(m)], dtype="string"),
        waiver_expired=pd.array([None, True, False] * (m // 3) + [None] * (m % 3),
                                dtype="boolean"))
    return dataclasses.replace(ev, scores=scores, results=results)


FLOATS: list[float | None] = [None, 66.9, 0.1 + 0.2, -0.0, 0.0, 1e16, 1.5e300, 99.99999999999999,
                              1e-4, 123456.789]
"""Floats orjson writes as `json.dumps` does (and a missing one)."""
TEXTS = ["plain", "caf\u00e9 \u00fc", "emoji \U0001F600", "line\u2028sep", "ctl \x00\x1f\x7f\t\n",
         'quote " back \\ slash </script>', "bidi \u202e", "", "\ufeffbom \uffff"]


SURROGATE = "lone \ud800 surrogate"


@pytest.mark.parametrize(("at_once", "bad_float", "bad_text", "nested", "by_orjson"), [
    (1, None, None, False, 7), (1000, None, None, False, 1), (3, None, None, True, 0),
    (1, 1e-5, None, False, 6), (3, 6.5e-06, SURROGATE, False, 2),
    (1000, float("inf"), None, False, 0), (1, None, SURROGATE, False, 6)])
def test_json_of_tricky_values_is_json_dumps_text(
        at_once: int, bad_float: float | None, bad_text: str | None, nested: bool,
        by_orjson: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """orjson writes what it writes as `json.dumps` does; floats it writes otherwise (below
    1e-4, infinite), text it refuses (a lone surrogate) and Python objects go to `json.dumps`:
    the text is the same either way, batch by batch."""
    monkeypatch.setattr(out, "IMAGES_AT_ONCE", at_once)
    written: list[bytes] = []

    def dumps(value: Any, option: int) -> bytes:
        written.append(orjson.dumps(value, option=option))
        return written[-1]

    monkeypatch.setattr(out, "orjson", SimpleNamespace(
        dumps=dumps, OPT_INDENT_2=orjson.OPT_INDENT_2, JSONEncodeError=orjson.JSONEncodeError))
    ev = _tricky(_evaluation(7), bad_float, bad_text, nested)
    extra = {"more": [{"x": [None, 1.5, "\u00e9"]}, []]}
    buf = io.StringIO()
    out.write_json(ev, buf, extra)
    assert buf.getvalue() == json.dumps({**_whole(ev), **extra}, indent=2)
    assert len(written) == by_orjson  # the batches orjson wrote
    assert out.to_dict(ev) == _whole(ev)
    assert buf.getvalue().isascii()


def test_orjson_writes_only_what_it_writes_as_json_dumps_does() -> None:
    """The guard: text, whole numbers, truth values, categories of text and floats from 1e-4 up
    go to orjson; a smaller or infinite float, or a column of Python objects, does not."""
    alike = pd.DataFrame({
        "t": pd.array(["a", None], dtype="string"), "i": pd.array([1, None], dtype="Int64"),
        "b": pd.array([True, None], dtype="boolean"), "c": pd.Categorical(["x", None]),
        "f": pd.array([0.0001, None], dtype="Float64")})
    assert out._orjson_writes_alike(alike)
    for name, values in {"f": pd.array([1e-5, 1.0], dtype="Float64"),
                         "f2": pd.array([float("inf"), 1.0], dtype="Float64"),
                         "o": pd.Series([[1], 2], dtype=object),
                         "n": pd.Categorical([1.5, 2.5])}.items():
        assert not out._orjson_writes_alike(alike.assign(**{name: values})), name
    # the floats orjson is trusted with: its text is `repr`'s from 1e-4 on, and 0
    rng = np.random.default_rng(7)
    samples = np.concatenate([rng.uniform(0, 100, 20000),
                              rng.random(20000) * 10.0 ** rng.integers(-4, 300, 20000)])
    for x in [*samples.tolist(), 0.0, -0.0, 1e-4, 1e16, 5e-324]:
        if x == 0 or abs(x) >= out._SAFE_FLOATS:
            assert orjson.dumps(x).decode() == json.dumps(x), x

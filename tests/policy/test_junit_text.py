"""check's JUnit XML written as text (`policy.output.to_junit`) is what ElementTree writes of
the tree of elements it was built as before, byte for byte."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from auditlib.policy import output as out
from auditlib.policy.evaluate import Evaluation
from benchmarks.policy_output import junit_tree as _tree  # main's to_junit: the tree
from tests.policy.test_json_stream import _evaluation

TEXTS = ["", "plain", 'a & b < c > d " e \' f', "cr\rlf\nlf\ttab", "caf\u00e9 \U0001F600",
         "bidi \u202e zw\u200b", "]]> <![CDATA[", None]


def _tricky(ev: Evaluation) -> Evaluation:
    """`ev` with its results shuffled, text that XML escapes (in attributes and in text), empty
    and missing evidence (an empty failure is `<failure ... />`), missing titles and
    severities, an image without a name and a result without an image."""
    results = ev.results.sample(frac=1.0, random_state=5).reset_index(drop=True)
    m = len(results)
    statuses = ["fail", "warn", "no-data", "pass", "waived"]
    results = results.assign(
        status=pd.Categorical([statuses[i % 5] for i in range(m)]),
        evidence=pd.array([TEXTS[i % len(TEXTS)] for i in range(m)], dtype="string"),
        title=pd.Categorical([None if i % 7 == 0 else f"t<{i % 3}>" for i in range(m)]),
        severity=pd.Categorical([None if i % 6 == 0 else "high" for i in range(m)]))
    results.loc[results["image_id"] == results["image_id"].iloc[0], "image_name"] = pd.NA
    results.loc[3, "image_id"] = pd.NA
    return dataclasses.replace(ev, results=results)


def _filled(ev: Evaluation) -> Evaluation:
    """`ev` with what `to_junit` writes for a missing value put in its place: an image's id for
    its name, empty evidence, a result's rule for its title (the tree wrote `<NA>` and `nan`)."""
    r = ev.results
    name = r["image_name"].astype("string").fillna(r["image_id"].astype("string"))
    title = r["title"].astype("string").fillna(r["rule"].astype("string"))
    return dataclasses.replace(ev, results=r.assign(
        image_name=name, evidence=r["evidence"].astype("string").fillna(""), title=title))


@pytest.mark.parametrize(("images", "at_once"), [(0, 1000), (1, 1000), (6, 1000), (6, 1),
                                               (6, 4), (7, 3)])
def test_junit_text_is_elementtrees(images: int, at_once: int,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The same bytes whatever the images made plain at a time (`IMAGES_AT_ONCE`): one, a
    batch that leaves a part, batches that share the images evenly, all at once."""
    monkeypatch.setattr(out, "IMAGES_AT_ONCE", at_once)
    ev = _evaluation(images)
    assert out.to_junit(ev) == _tree(ev)
    if images:
        tricky = _tricky(ev)
        severe = dataclasses.replace(tricky, results=tricky.results.assign(
            severity=tricky.results["severity"].cat.add_categories("low").fillna("low")))
        text = out.to_junit(severe)
        assert text == _tree(_filled(severe))
        assert re.search(r'<failure type="fail" message="[^"]*" />', text)  # empty evidence
        root = ET.fromstring(text.encode())
        assert len(root) == images and sum(len(s) for s in root) == len(ev.results) - 1
        # results none of which names an image: no suite, the empty element the tree wrote
        nameless = dataclasses.replace(ev, results=ev.results.assign(
            image_id=pd.array([None] * len(ev.results), dtype="string")))
        assert out.to_junit(nameless) == _tree(nameless)
        assert out.to_junit(nameless).rstrip().endswith("/>")


def test_junit_writes_no_placeholder_for_a_missing_value() -> None:
    """A missing name, evidence, title or severity is never written as `<NA>`, `None` or `nan`:
    the image's id names its suite, a failure without a title is named by its rule, one without
    a severity has no parentheses."""
    tricky = _tricky(_evaluation(6))
    text = out.to_junit(tricky)
    for placeholder in ("&lt;NA&gt;", "nan", "None", "()"):
        assert placeholder not in text, placeholder
    r = tricky.results
    nameless = r.loc[r["image_name"].isna() & r["image_id"].notna(), "image_id"].iloc[0]
    assert f'<testsuite name="{nameless}" id="{nameless}"' in text
    failed = r[r["status"].astype(str).eq("fail")]
    untitled = failed[failed["title"].isna() & failed["severity"].notna()].iloc[0]
    assert f'message="{untitled["rule"]} ({untitled["severity"]})"' in text
    bare = failed[failed["title"].notna() & failed["severity"].isna()].iloc[0]
    assert f'message="{_attr_text(str(bare["title"]))}"' in text


def _attr_text(text: str) -> str:
    """`text` as an XML attribute value (ElementTree's escaping)."""
    return ET._escape_attrib(text)  # type: ignore[attr-defined]


@pytest.mark.parametrize("images", [0, 6])
def test_write_junit_writes_to_junits_text_in_pieces(images: int) -> None:
    """`write_junit` (the run's and check's writer) writes `to_junit`'s text, a suite a write."""
    import io

    class Counting(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            Counting.writes += 1
            return super().write(text)

    ev = _tricky(_evaluation(images)) if images else _evaluation(0)
    f = Counting()
    out.write_junit(ev, f)
    assert f.getvalue() == out.to_junit(ev)
    assert Counting.writes == (images + 2 if images else 1)

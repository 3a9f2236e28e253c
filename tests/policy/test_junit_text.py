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


@pytest.mark.parametrize("images", [0, 1, 6])
def test_junit_text_is_elementtrees(images: int) -> None:
    ev = _evaluation(images)
    assert out.to_junit(ev) == _tree(ev)
    if images:
        tricky = _tricky(ev)
        text = out.to_junit(tricky)
        assert text == _tree(tricky)
        assert re.search(r'<failure type="fail" message="[^"]*" />', text)  # empty evidence
        assert 'name="&lt;NA&gt;"' in text  # an image without a name
        root = ET.fromstring(text.encode())
        assert len(root) == images and sum(len(s) for s in root) == len(ev.results) - 1
        # results none of which names an image: no suite, the empty element the tree wrote
        nameless = dataclasses.replace(ev, results=ev.results.assign(
            image_id=pd.array([None] * len(ev.results), dtype="string")))
        assert out.to_junit(nameless) == _tree(nameless)
        assert out.to_junit(nameless).rstrip().endswith("/>")

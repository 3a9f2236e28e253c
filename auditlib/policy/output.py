"""How `auditlib check` shows an evaluation: a readable table, JSON, or JUnit XML (so that CI
systems show each failing rule of each image as a failed test).
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np
import orjson
import pandas as pd
from rich.table import Table
from rich.text import Text

from auditlib.fleet.view import text
from auditlib.normalize.visible import visible
from auditlib.policy.evaluate import Evaluation
from auditlib.tables import jsonable

_STYLE = {"fail": "red", "warn": "yellow", "no-data": "magenta", "waived": "cyan", "pass": "green"}


RESULT_KEYS = ("rule", "status", "severity", "points", "earned", "evidence", "waiver_reason",
               "waiver_expires", "waiver_expired")
"""What each image's results say in the JSON, in this order."""
IMAGES_AT_ONCE = 1000
"""Images whose results `image_dicts` turns into plain data at a time."""


def plain_column(values: pd.Series) -> list[Any]:
    """Return the column's cells as plain JSON data, `[jsonable(v) for v in values]`, a column
    at a time: text, whole numbers and truth values (missing: None) and categories (their
    categories made plain once) without a call per cell."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = [jsonable(c) for c in dtype.categories]
        return [None if c < 0 else cats[c] for c in values.cat.codes.tolist()]
    if isinstance(dtype, pd.StringDtype | pd.BooleanDtype) or dtype in _WHOLE:
        return values.astype(object).where(values.notna(), None).tolist()
    return [jsonable(v) for v in values.tolist()]


_WHOLE = (pd.Int8Dtype(), pd.Int16Dtype(), pd.Int32Dtype(), pd.Int64Dtype())


def _rows(frame: pd.DataFrame, keys: list[str]) -> list[dict[str, Any]]:
    """Return the frame's rows as plain data (`plain_column`), their keys `keys` in order."""
    columns = [plain_column(frame[k]) for k in keys]
    return [dict(zip(keys, cells, strict=True)) for cells in zip(*columns, strict=True)]


def _batches(ev: Evaluation, *, ask_orjson: bool = True
             ) -> Iterator[tuple[list[dict[str, Any]], bool]]:
    """Yield the images of `image_dicts`, `IMAGES_AT_ONCE` at a time, each batch with whether
    orjson writes its data as `json.dumps` does (`_orjson_writes_alike`; False unasked when
    not `ask_orjson`)."""
    scores, results = ev.scores, ev.results
    result_ids = results["image_id"].astype(str).to_numpy()
    codes, uniques = pd.factorize(result_ids)
    order = np.argsort(codes, kind="stable")  # each image's results together, in their order
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    where = {str(u): i for i, u in enumerate(uniques)}
    keys = [str(k) for k in scores.columns]
    for start in range(0, len(scores), IMAGES_AT_ONCE):
        batch = scores.iloc[start:start + IMAGES_AT_ONCE]
        ids = batch["image_id"].astype(str).tolist()
        found = sorted({where[i] for i in ids if i in where})
        picked = [np.arange(bounds[c], bounds[c + 1]) for c in found]
        rows = (np.sort(order[np.concatenate(picked)]) if picked  # in the results' order
                else np.array([], dtype=np.int64))
        mine = results.iloc[rows][list(RESULT_KEYS)]
        plain = _rows(mine, list(RESULT_KEYS))
        by_image: dict[str, list[dict[str, Any]]] = {}
        for i, row in zip(result_ids[rows], plain, strict=True):
            by_image.setdefault(i, []).append(row)
        yield ([{**s, "results": by_image.get(i, [])}
                for i, s in zip(ids, _rows(batch, keys), strict=True)],
               ask_orjson and _orjson_writes_alike(batch) and _orjson_writes_alike(mine))


def image_dicts(ev: Evaluation) -> Iterator[dict[str, Any]]:
    """Yield, per image of the scores in their order, its score row and its results as plain
    data (`to_dict`'s `images`), `IMAGES_AT_ONCE` images at a time: a fleet's results (images x
    rules) are never all plain Python objects at once."""
    for batch, _ in _batches(ev, ask_orjson=False):
        yield from batch


def _head(ev: Evaluation) -> dict[str, Any]:
    counts = {s: ev.count(s) for s in ("pass", "fail", "warn", "waived", "no-data")}
    return {
        "as_of": ev.as_of.isoformat(),
        "policy": ev.policy.source,
        "rules": [r.rule.slug for r in ev.policy.enabled()],
        "summary": {"images": len(ev.scores), "results": counts,
                    "grades": {str(k): int(v) for k, v in
                               ev.scores["grade"].value_counts().sort_index().items()}},
    }


def _tail(ev: Evaluation) -> dict[str, Any]:
    return {
        "waivers": [
            {"rule": u.waiver.rule, "image": u.waiver.image, "reason": u.waiver.reason,
             "expires": u.waiver.expires.isoformat() if u.waiver.expires else None,
             "expired": u.expired, "matched": len(u.applied_to)}
            for u in ev.waivers
        ],
        "errors": ev.errors,
    }


def to_dict(ev: Evaluation) -> dict[str, Any]:
    """Return the evaluation as plain data: summary, images (score, grade, results), waivers
    (`write_json` writes the same as JSON without holding it all)."""
    return {**_head(ev), "images": list(image_dicts(ev)), **_tail(ev)}


def _indented(value: Any, level: int) -> str:
    """Return `value` as `json.dumps(..., indent=2)` writes it nested `level` deep (JSON text
    has no raw line break inside a value, so every line after the first moves right)."""
    return json.dumps(value, indent=2).replace("\n", "\n" + "  " * level)


_NON_ASCII = re.compile(r"[^\x00-\x7e]")
"""What `json.dumps` (ensure_ascii) escapes that orjson writes as it is: past ASCII, and DEL."""
_SAFE_FLOATS = 1e-4
"""orjson writes a float as `repr` does from this magnitude on (and 0.0); below it, as
0.00005 or 6.5e-6 where `json.dumps` writes 5e-05 and 6.5e-06."""


def _escaped(match: re.Match[str]) -> str:
    """Return a character as `json.dumps` (ensure_ascii) escapes it: `\\u` and four lower-case
    hex digits, a surrogate pair beyond the Basic Multilingual Plane."""
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def _orjson_writes_alike(frame: pd.DataFrame) -> bool:
    """Return whether orjson writes the plain data of `frame`'s cells (`plain_column`) as
    `json.dumps` does: text, truth values, whole numbers, categories of text, and floats that
    are finite and 0 or at least `_SAFE_FLOATS` in magnitude. Anything else is False."""
    for name in frame.columns:
        values = frame[name]
        dtype = values.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            if not all(isinstance(c, str) for c in dtype.categories):
                return False
        elif isinstance(dtype, pd.StringDtype | pd.BooleanDtype) or dtype in _WHOLE:
            continue
        elif isinstance(dtype, pd.Float32Dtype | pd.Float64Dtype):
            x = np.abs(values.to_numpy(dtype=float, na_value=0.0))
            if not ((x == 0) | (np.isfinite(x) & (x >= _SAFE_FLOATS)) | np.isnan(x)).all():
                return False
        else:
            return False
    return True


def _images_text(batch: list[dict[str, Any]], alike: bool) -> str:
    """Return the images of `batch` as `write_json` writes them into its images list: each on a
    new line, four spaces in, `,` between, `json.dumps(..., indent=2)`'s text nested two deep.
    orjson writes them when `alike` (the same text, `_orjson_writes_alike`), non-ASCII and DEL
    escaped afterwards as `json.dumps` escapes them; else, or when orjson refuses a value (a lone
    surrogate), `json.dumps`."""
    if alike:
        try:
            text = orjson.dumps(batch, option=orjson.OPT_INDENT_2).decode()
        except orjson.JSONEncodeError:
            pass
        else:  # "[\n  {...},\n  {...}\n]": the brackets off, two spaces more in
            if not text.isascii() or "\x7f" in text:
                text = _NON_ASCII.sub(_escaped, text)
            return text[1:-2].replace("\n", "\n  ")
    return ",".join("\n    " + _indented(image, 2) for image in batch)


def write_json(ev: Evaluation, out: IO[str], extra: dict[str, Any] | None = None) -> None:
    """Write `to_dict(ev)` and then `extra`'s keys to `out` as `json.dumps(..., indent=2)` would,
    character for character, `IMAGES_AT_ONCE` images at a time (`image_dicts`; orjson writes
    them where it gives the same text, `_images_text`): at fleet scale the text and the plain
    data of every result would be gigabytes at once."""
    out.write("{")
    first = True
    for part in (_head(ev), None, _tail(ev), extra or {}):
        if part is None:  # the images, a batch at a time
            out.write(',\n  "images": [')
            any_image = False
            for batch, alike in _batches(ev):  # never empty
                out.write(("," if any_image else "") + _images_text(batch, alike))
                any_image = True
            out.write("\n  ]" if any_image else "]")
            continue
        for key, value in part.items():
            out.write(("\n  " if first else ",\n  ") + json.dumps(key) + ": "
                      + _indented(value, 1))
            first = False
    out.write("\n}")


def to_json(ev: Evaluation) -> str:
    """Return the evaluation as JSON text (see `to_dict`; `write_json` writes it to a file)."""
    buf = io.StringIO()
    write_json(ev, buf)
    return buf.getvalue()


_attr: Callable[[str], str] = ET._escape_attrib  # type: ignore[attr-defined]
_cdata: Callable[[str], str] = ET._escape_cdata  # type: ignore[attr-defined]
"""ElementTree's own escaping of attribute values and of text, so that the JUnit XML written
as text is what `ET.tostring` writes, byte for byte."""


def _start(tag: str, attrs: dict[str, str], indent: str) -> str:
    """Return an element's start tag as `ET.tostring` writes it, after `indent`, without its
    closing `>`."""
    return f"{indent}<{tag}" + "".join(f' {k}="{_attr(v)}"' for k, v in attrs.items())


def _element(tag: str, attrs: dict[str, str], text: str | None, indent: str) -> str:
    """Return an element without children as `ET.indent` and `ET.tostring` write it: after
    `indent`, `<tag ... />` when it holds no text."""
    start = _start(tag, attrs, indent)
    return f"{start}>{_cdata(text)}</{tag}>" if text else f"{start} />"


def to_junit(ev: Evaluation) -> str:
    """Return JUnit XML: a test suite per image, a test case per rule; `fail` is a failure,
    `warn` a failure of type `warn` too (CI shows it; `--fail-on` decides the exit code),
    `no-data` a skipped test, `pass` and `waived` pass (a waiver is said in system-out). Names
    and evidence show bidi and invisible controls as `<U+XXXX>` (`normalize.visible`), as the
    pages do: CI systems display these strings. `write_junit` writes the same text to a file
    without holding it whole.

    Written as text (what `ET.indent` and `ET.tostring` would write of the tree, the same
    bytes): a fleet's tree of elements was most of the run's time spent on this file. A value
    a result lacks is never written as `<NA>` or `nan`: an image without a name (missing or
    empty) is named by its id, missing evidence is an empty element, a failure without a title
    (missing or empty) is named by its rule, and one without a severity has none in
    parentheses.
    """
    return "".join(_junit_parts(ev))


def write_junit(ev: Evaluation, file: IO[str]) -> None:
    """Write `to_junit(ev)` to `file`, an image's test suite at a time (at 100,000 images the
    text is 0.7 GB, and its pieces held at once as much again)."""
    for part in _junit_parts(ev):
        file.write(part)


def _junit_parts(ev: Evaluation) -> Iterator[str]:
    """Yield the text of `to_junit`, in pieces: the head, then each image's test suite."""
    results = ev.results
    root = ET.Element("testsuites", name="auditlib policy", tests=str(len(results)),
                      failures=str(ev.count("fail") + ev.count("warn")))
    declaration = ET.tostring(ET.Element("x"), encoding="unicode", xml_declaration=True)
    head = declaration[:declaration.index("\n") + 1]
    codes, ids = pd.factorize(results["image_id"], sort=True)  # as groupby(sort=True) groups
    if not len(ids):  # no result, or none with an image: no suite, an empty element
        yield head + ET.tostring(root, encoding="unicode") + "\n"
        return
    order = np.argsort(codes, kind="stable")
    order = order[codes[order] >= 0]  # a result without an image is in no suite
    bounds = np.searchsorted(codes[order], np.arange(len(ids) + 1))
    yield head + _start("testsuites", root.attrib, "") + ">"
    for first in range(0, len(ids), IMAGES_AT_ONCE):
        last = min(first + IMAGES_AT_ONCE, len(ids))
        yield from _junit_suites(results, ids[first:last], order[bounds[first]:bounds[last]],
                                 bounds[first:last + 1] - bounds[first])
    yield "\n</testsuites>\n"


def _junit_suites(results: pd.DataFrame, ids: pd.Index, rows: np.ndarray, bounds: np.ndarray
                  ) -> Iterator[str]:
    """Yield the test suite of each image of `ids`, whose results are `results`' rows `rows`,
    those of the image n from `bounds[n]` to `bounds[n + 1]`: a batch of images' cells made
    plain at a time (all at once, at 100,000 images, they were 1.2 GB more of the run's
    memory while the kernels ran)."""
    cols = {c: results[c].take(rows).tolist() for c in
            ("image_name", "rule", "status", "evidence", "title", "severity")}
    rule_attrs: dict[str, str] = {}  # each rule's name escaped once
    for n, image_id in enumerate(ids):
        start, end = int(bounds[n]), int(bounds[n + 1])
        name = visible(text(cols["image_name"][start]) or str(image_id))
        statuses = [str(v) for v in cols["status"][start:end]]
        parts = [_start("testsuite", {
            "name": name, "id": str(image_id), "tests": str(end - start),
            "failures": str(sum(st in ("fail", "warn") for st in statuses)),
            "skipped": str(statuses.count("no-data"))}, "\n  ") + ">"]
        case = f'\n    <testcase classname="{_attr(name)}" name="'  # as `_start` writes it
        for i, status in zip(range(start, end), statuses, strict=True):
            rule = str(cols["rule"][i])
            if rule not in rule_attrs:
                rule_attrs[rule] = _attr(rule)
            parts.append(f'{case}{rule_attrs[rule]}">')
            evidence = visible(text(cols["evidence"][i]) or "")
            if status in ("fail", "warn"):
                title = text(cols["title"][i]) or rule
                severity = text(cols["severity"][i])
                message = f"{title} ({severity})" if severity else title
                child = _element("failure", {"type": status, "message": message},
                                 evidence, "\n      ")
            elif status == "no-data":
                child = _element("skipped", {"message": evidence}, None, "\n      ")
            else:
                child = _element("system-out", {}, f"{status}: {evidence}", "\n      ")
            parts.append(child + "\n    </testcase>")
        parts.append("\n  </testsuite>")
        yield "".join(parts)


def table_view(ev: Evaluation, *, show: tuple[str, ...] = ("fail", "warn")
               ) -> list[Table | Text]:
    """Return what `auditlib check` prints as a table, in order: the images by score, worst
    first; their results of the statuses `show` with the evidence; a line per expired or unused
    waiver and per rule error. Every title and cell is `Text` (untrusted text is never read as
    markup) with bidi and invisible controls as `<U+XXXX>` (`normalize.visible`)."""
    out: list[Table | Text] = []
    summary = Table(title=Text(visible(f"policy: {ev.policy.source}; "
                                       f"as of {ev.as_of:%Y-%m-%d %H:%M} UTC"),
                               style="table.title"))
    for col in ("image", "grade", "score", "fail", "warn", "no-data", "waived", "pass"):
        summary.add_column(col, justify="left" if col == "image" else "right", overflow="fold")
    scores = ev.scores.sort_values(["score", "image_name"])
    for s, score in zip(scores.itertuples(index=False), scores["score"].astype("Float64"),
                        strict=True):
        summary.add_row(*(Text(visible(v)) for v in (
            s.image_name, s.grade, "-" if pd.isna(score) else f"{score:.0f}", s.fail_count,
            s.warn_count, s.no_data_count, s.waived_count, s.pass_count)))
    out.append(summary)
    shown = ev.results[ev.results["status"].astype(str).isin(show)]
    if len(shown):
        detail = Table(title=Text("findings", style="table.title"), show_lines=False)
        for col in ("image", "rule", "status", "severity", "evidence"):
            detail.add_column(col, overflow="fold")
        order = {"fail": 0, "warn": 1, "no-data": 2, "waived": 3, "pass": 4}
        shown = shown.assign(_o=shown["status"].astype(str).map(order))
        for r in shown.sort_values(["_o", "image_name", "rule"]).itertuples(index=False):
            detail.add_row(Text(visible(r.image_name)), Text(visible(r.rule)),
                           Text(str(r.status), style=_STYLE.get(str(r.status), "")),
                           Text(visible(r.severity)), Text(visible(r.evidence)))
        out.append(detail)
    for u in ev.waivers:
        if u.expired:
            out.append(Text(visible(f"waiver expired on {u.waiver.expires}: {u.waiver.rule} "
                                    f"for {u.waiver.image} ({u.waiver.reason}); it no "
                                    "longer applies"), style="yellow"))
        elif not u.applied_to:
            out.append(Text(visible(f"waiver matched nothing: {u.waiver.rule} for "
                                    f"{u.waiver.image}"), style="dim"))
    out.extend(Text(visible(f"rule error: {e}"), style="red") for e in ev.errors)
    return out

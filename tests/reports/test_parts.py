"""The parts of the report runner on their own: parameters, kernel lookup, page header, index,
offline checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from auditlib.assess import SnapshotUse as SnapshotInfo
from auditlib.errors import ParameterError
from auditlib.normalize.times import parse_time as parse_date
from auditlib.reports.export import network_refs, offline_plotlyjs
from auditlib.reports.facts import FleetFacts
from auditlib.reports.header import header_html
from auditlib.reports.index import write_index
from auditlib.reports.kernel import find_kernel, fits, own_kernel_name
from auditlib.reports.params import ReportParams
from auditlib.reports.runner import typed_value


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-01-31", "2026-01-31T00:00:00+00:00"),  # papermill passes dates as strings
    ("2026-01-31T12:30:00+02:00", "2026-01-31T10:30:00+00:00"),
    (pd.Timestamp("2026-01-31"), "2026-01-31T00:00:00+00:00"),
    (__import__("datetime").date(2026, 1, 31), "2026-01-31T00:00:00+00:00"),
])
def test_dates_are_parsed_in_auditlib(value: object, expected: str) -> None:
    t = parse_date(value)
    assert t is not None and t.isoformat() == expected


def test_every_parameter_may_be_a_string() -> None:
    # Airflow's PapermillOperator and `papermill -r` give strings only.
    p = ReportParams.from_values({"store": "s", "as_of": "2026-02-01", "top_n": "7",
                                  "history": "false", "synthetic": "true", "policy": "None",
                                  "severity_threshold": "HIGH", "image_filter": ""})
    assert p.as_of == pd.Timestamp("2026-02-01", tz="UTC")
    assert (p.top_n, p.history, p.synthetic, p.policy, p.image_filter) == (7, False, True, None,
                                                                           None)
    assert p.severity_threshold == "high"


def test_no_store_is_the_default_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # None (or "", as papermill -r gives it) is the CLI's default store, one place decides it.
    monkeypatch.delenv("AUDITLIB_STORE", raising=False)
    assert ReportParams.from_values({"store": ""}).store == "auditlib-store"
    monkeypatch.setenv("AUDITLIB_STORE", "/srv/store")
    assert ReportParams.from_values({"store": None}).store == "/srv/store"
    assert ReportParams.from_values({}).store == "/srv/store"


@pytest.mark.parametrize(("values", "message"), [
    ({"colour": "red"}, "colour: no such report parameter"),
    ({"as_of": "next tuesday"}, "as_of: 'next tuesday' is not a date"),
    ({"top_n": "0"}, "top_n: 0 is less than 1"),
    ({"history": "maybe"}, "history: 'maybe' is not true or false"),
])
def test_bad_parameters(values: dict[str, str], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        ReportParams.from_values(values)


@pytest.mark.parametrize(("text", "inferred", "default", "expected"), [
    ("5", "int", "20", 5),
    ("5", "None", "20", 5),  # no annotation: the default's type
    ("true", "bool", "True", True),
    ("None", "Optional[str]", "None", None),
    ("2026-01-31", "Optional[str]", "None", "2026-01-31"),
    ("high", "str", '"low"', "high"),
])
def test_cli_values_are_typed(text: str, inferred: str, default: str, expected: object) -> None:
    assert typed_value(text, inferred, default) == expected


def test_kernel_fits_this_python_only() -> None:
    assert fits(["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"])
    assert fits([sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"])
    assert not fits(["/usr/bin/python2.7", "-m", "ipykernel_launcher"])
    assert not fits(["python", "-m", "some_other_kernel"])


def test_kernel_is_registered_when_none_fits(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Every kernelspec found runs another Python: auditlib registers its own under a folder it
    # controls and finds it there.
    data = tmp_path / "jupyter"
    spec = data / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "another Python", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(data))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data))
    monkeypatch.setenv("AUDITLIB_KERNEL_HOME", str(tmp_path / "home"))
    import jupyter_client.kernelspec as ks

    monkeypatch.setattr(ks, "SYSTEM_JUPYTER_PATH", [], raising=False)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))  # hide the venv's own spec
    name = find_kernel()
    assert name == own_kernel_name()
    written = json.loads((tmp_path / "home" / "share" / "jupyter" / "kernels" / name
                          / "kernel.json").read_text())
    assert written["argv"][0] == sys.executable
    assert find_kernel(name) == name
    from auditlib.reports.kernel import KernelError

    with pytest.raises(KernelError, match="no-such-kernel: no such Jupyter kernel"):
        find_kernel("no-such-kernel")


def test_header_escapes_and_says_synthetic() -> None:
    facts = FleetFacts(snapshots=[SnapshotInfo("20260101T000000000000Z-abc", "2026-01-01", 3)],
                       images=4, vuln_scanned=4, with_sbom=2, synthetic_images=4)
    html = header_html(title="<i>t</i>", meta={
        "facts": facts.to_dict(), "parameters": {"image_filter": "<script>x</script>"},
        "made_at": "2026-01-02T03:04:05+00:00"},
        error={"ename": "ValueError", "evalue": "<b>no</b>", "cell": 3}, failed=True)
    assert "SYNTHETIC DATA: all 4 images" in html
    assert "REPORT INCOMPLETE" in html and "at cell [3]" in html
    assert "&lt;b&gt;no&lt;/b&gt;" in html and "&lt;i&gt;t&lt;/i&gt;" in html
    assert "<script>" not in html
    assert "SBOM 2 (50%)" in html and "20260101T000000000000Z-abc" in html


def test_real_data_has_no_synthetic_banner() -> None:
    facts = FleetFacts(images=2, vuln_scanned=2, with_sbom=2)
    assert "SYNTHETIC" not in header_html(title="t", meta={"facts": facts.to_dict()})
    forced = header_html(title="t", meta={"facts": facts.to_dict(),
                                          "parameters": {"synthetic": "True"}})
    assert "SYNTHETIC DATA" in forced


def test_index_escapes_and_orders_newest_first(tmp_path: Path) -> None:
    for run, made, title in (("run-1", "2026-01-01T00:00:00", "<script>a</script>"),
                             ("run-2", "2026-02-01T00:00:00", "second")):
        (tmp_path / run).mkdir()
        (tmp_path / run / "compliance.json").write_text(json.dumps({
            "report": "compliance", "status": "ok", "made_at": made,
            "files": {"html": "compliance.html", "notebook": "compliance.ipynb",
                      "summary": "compliance.json"},
            "facts": {"images": 3, "is_synthetic": False, "snapshots": []},
            "results": {"title": title}}))
    page = write_index(tmp_path).read_text()
    assert page.index("second") < page.index("&lt;script&gt;a&lt;/script&gt;")
    assert "<script>a" not in page


def test_index_does_not_read_a_run_s_large_files(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A run's `policy.json` (0.95 GB at 100,000 images) sits beside the reports' summaries:
    the index never reads it to find out it is not one."""
    from auditlib.reports import index

    run = tmp_path / "run-1"
    run.mkdir()
    summary = {"report": "compliance", "status": "ok", "made_at": "2026-01-01T00:00:00",
               "files": {"html": "compliance.html"}, "facts": {"images": 3},
               "results": {"title": "the summary"}}
    (run / "compliance.json").write_text(json.dumps(summary))
    (run / "policy.json").write_text(json.dumps({"images": ["x" * 1000] * 50}))
    monkeypatch.setattr(index, "SUMMARY_MAX_BYTES", 10_000)
    read: list[str] = []
    real = Path.read_text

    def reading(self: Path, *args: Any, **kwargs: Any) -> str:
        read.append(self.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", reading)
    page = write_index(tmp_path).read_text()
    assert "the summary" in page
    assert "compliance.json" in read and "policy.json" not in read
    # a summary that large would not be one either: left out, like an unreadable one
    (run / "compliance.json").write_text(json.dumps({**summary, "pad": "x" * 20_000}))
    assert "the summary" not in write_index(tmp_path).read_text()


def test_plotlyjs_is_offline() -> None:
    js = offline_plotlyjs()
    assert "https://cdn" not in js and "</script" not in js
    assert js.count("plotly.js v") == 1


@pytest.mark.parametrize("page", [
    '<script src="https://cdn.example/x.js"></script>',
    '<link rel="stylesheet" href="//fonts.example/f.css">',
    "<style>@import url(https://fonts.example/f.css);</style>",
    '<script type="module">import "https://cdn.example/m.js"</script>',
])
def test_network_loads_are_found(page: str) -> None:
    assert network_refs(page)


def test_links_are_not_loads() -> None:
    assert network_refs('<a href="https://avd.aquasec.com/nvd/cve-2024-1">advisory</a>') == []

"""What to fix first (`auditlib.assess.fix_first`): ordered by the risk fixing removes, ties broken
by risk and never by name, unknowns apart and never clean; the compliance page's lists follow."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from auditlib.assess import assess_data
from auditlib.assess.fix_first import EPSS_FACTOR, KEV_FACTOR, SEVERITY_WEIGHTS, SLA_FACTORS
from auditlib.engine.aggregates import finding_points
from auditlib.fleet.findings import SEVERITY_RANK
from auditlib.reports.compliance import worst_images
from tests.policy.builders import AS_OF, days_ago, image_id, make_data

FEW, MANY, KEV, UNSCANNED, CLEAN = (image_id(n) for n in range(1, 6))
NAMES = {FEW: "r.test/a/few:1", MANY: "r.test/z/many:1", KEV: "r.test/m/kev:1",
         UNSCANNED: "r.test/b/unscanned:1", CLEAN: "r.test/c/clean:1"}


def _vuln(image: str, n: int, severity: str = "high", **extra: Any) -> dict[str, Any]:
    return {"image_id": image, "target": "t", "vuln_id": f"CVE-2026-{n}", "pkg_name": f"p{n % 7}",
            "pkg_version": "1", "severity": severity, "fix_state": "fixed",
            "fixed_version": "2", "fix_available_at": days_ago(100), **extra}


def _data():  # type: ignore[no-untyped-def]
    vulns = [_vuln(FEW, n) for n in range(3)] + [_vuln(MANY, 1000 + n) for n in range(511)]
    vulns.append(_vuln(KEV, 9, "medium", is_known_exploited=True))
    return make_data(
        images=[{"image_id": i, "host": "h", "user": "app", "created_at": days_ago(3),
                 "os_family": "debian", "os_version": "13.1"} for i in NAMES],
        image_tags=[{"image_id": i, "reference": ref} for i, ref in NAMES.items()],
        scans=[{"image_id": i, "format": "grype-json", "scanned_at": days_ago(1)}
               for i in (FEW, MANY, KEV, CLEAN)],
        vulnerabilities=vulns,
    )


def test_points_weigh_severity_sla_and_exploitation() -> None:
    f = pd.DataFrame({
        "image_id": ["i"] * 5, "vuln_id": [f"CVE-{n}" for n in range(5)],
        "pkg_name": ["p"] * 5, "pkg_version": ["1"] * 5, "layer_diff_id": [None] * 5,
        "severity_rank": [SEVERITY_RANK[s] for s in ("critical", "critical", "low", "high",
                                                      "high")],
        "state": ["within", "over", "within", "within", "within"],
        "known_exploited": pd.array([None, None, 1, None, 0], dtype="Int64"),
        "epss": [None, None, None, 0.5, None],
    })
    con = duckdb.connect()
    con.register("findings", f)
    sql = finding_points("SELECT * FROM findings",
                         {SEVERITY_RANK[k]: v for k, v in SEVERITY_WEIGHTS.items()}, SLA_FACTORS,
                         KEV_FACTOR, EPSS_FACTOR, base=False, drifted=False)
    got = con.sql(f"SELECT pts FROM ({sql}) p ORDER BY vuln_id").df()["pts"].astype(float)
    assert got.tolist() == [
        SEVERITY_WEIGHTS["critical"], 2 * SEVERITY_WEIGHTS["critical"],
        KEV_FACTOR * SEVERITY_WEIGHTS["low"], 2 * SEVERITY_WEIGHTS["high"],
        SEVERITY_WEIGHTS["high"]]


def test_ranked_by_risk_not_by_name() -> None:
    a = assess_data(_data(), as_of=AS_OF)
    st = a.staleness
    order = st["image_id"].tolist()
    # 511 high over SLA before 3; a known exploited medium (3 x 2 x 3) before nothing known.
    assert order[:3] == [MANY, FEW, KEV]
    assert st["priority_rank"].tolist() == list(range(1, len(order) + 1))
    risk = st["rebuild_priority"].astype(float).tolist()
    assert risk == sorted(risk, reverse=True)
    many = st.set_index("image_id").loc[MANY]
    assert "511 high (511 over SLA)" in many["priority_reasons"]
    assert many["priority_actions"].startswith("upgrade p")
    assert "to 2" in many["priority_actions"] and "more packages" in many["priority_actions"]
    kev = st.set_index("image_id").loc[KEV]
    assert "1 known exploited" in kev["priority_reasons"]


def test_unknown_is_apart_never_clean() -> None:
    a = assess_data(_data(), as_of=AS_OF)
    st = a.staleness.set_index("image_id")
    # Not scanned: no known risk, but never "nothing to fix".
    assert st.loc[UNSCANNED, "rebuild_priority"] == 0
    assert "no vulnerability scan" in st.loc[UNSCANNED, "priority_unknown"]
    assert "no vulnerability scan" not in str(st.loc[CLEAN, "priority_unknown"])
    # Among images with no known risk, the unknown comes before the known clean.
    order = a.staleness["image_id"].tolist()
    assert order.index(UNSCANNED) < order.index(CLEAN)
    s = a.summary()
    assert s["fixable"]["scanned_images"] == 4 and s["fixable"]["not_scanned_images"] == 1
    assert s["fix_first"]["images_at_risk"] == 3
    assert s["fix_first"]["top"][0]["image"] == NAMES[MANY]
    assert s["unknown"]["vulnerabilities"] == 1


def test_secrets_and_root_count_where_their_rule_fails() -> None:
    data = make_data(
        images=[{"image_id": FEW, "host": "h", "user": "root", "created_at": days_ago(3)}],
        image_tags=[{"image_id": FEW, "reference": NAMES[FEW]}],
        scans=[{"image_id": FEW, "format": "grype-json", "scanned_at": days_ago(1)}],
        secrets=[{"image_id": FEW, "rule_id": "aws-access-key-id", "severity": "critical",
                  "title": "AWS Access Key ID", "file_path": "/app/.env"}],
    )
    row = assess_data(data, as_of=AS_OF).staleness.iloc[0]
    assert row["priority_reasons"] == ("1 secret(s) found by a scanner (aws-access-key-id 1) in "
                                       "/app/.env (+30); the image runs as root: USER root (+5)")
    assert row["priority_actions"] == (
        "remove it from the image and rotate it; set a non-root USER")
    assert row["rebuild_priority"] == 30 + 5


def test_lowest_scores_break_ties_by_risk() -> None:
    a = assess_data(_data(), as_of=AS_OF)
    ev = a.evaluation
    scores = ev.scores.set_index("image_id")["score"]
    assert scores[FEW] == scores[MANY]  # the same rules fail: the score cannot tell them apart
    risk = pd.Series(a.staleness["rebuild_priority"].astype(float).to_numpy(),
                     index=a.staleness["image_id"].astype(str))
    listed = [x for x in worst_images(ev, 5, risk=risk)["image"] if x]
    assert listed.index(NAMES[MANY]) < listed.index(NAMES[FEW])

"""signed-and-attested: pass, fail and no-data from the registry's signature and attestation
tables (the real registry and real signatures: tests/integration/test_registry_signatures_real.py).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from auditlib.data import AuditData
from auditlib.policy import evaluate, load_policy
from auditlib.policy.config import build_policy
from auditlib.policy.rules import RULES
from tests.policy.builders import AS_OF, image_id, make_data

RULE = "signed-and-attested"
IDS = [image_id(n) for n in range(1, 9)]


_RESULTS: dict[str, pd.DataFrame] = {}


def _result(data: AuditData, image: str, **params: Any) -> tuple[str, str]:
    """The rule's verdict on `image`; the data is always `_data()`, so each policy is evaluated
    once for the module."""
    key = repr(sorted(params.items()))
    if key not in _RESULTS:
        policy = (build_policy({"rules": {RULE: params}}, RULES, "test") if params
                  else load_policy(None))
        _RESULTS[key] = evaluate(data, policy, as_of=AS_OF).results
    r = _RESULTS[key]
    row = r[(r["rule"] == RULE) & (r["image_id"] == image)].iloc[0]
    return str(row["status"]), str(row["evidence"])


def _tag(n: int, checked: bool | None = True) -> dict[str, Any]:
    return {"registry": "r", "repository": "app", "tag": f"t{n}", "image_id": IDS[n],
            "artifacts_checked": checked}


def _sig(n: int, verified: bool | None, failure: str | None = None) -> dict[str, Any]:
    return {"image_id": IDS[n], "subject_digest": f"sha256:{n:064x}", "found_by": "cosign-tag",
            "artifact_digest": f"sha256:{n + 100:064x}", "layer_index": 0, "verified": verified,
            "verified_by": "cosign.pub" if verified else None, "failure": failure}


def _att(n: int, kind: str, verified: bool | None = True, index: int = 0,
         matches: bool | None = True) -> dict[str, Any]:
    return {"image_id": IDS[n], "subject_digest": f"sha256:{n:064x}", "found_by": "cosign-tag",
            "artifact_digest": f"sha256:{n + 200:064x}", "layer_index": index,
            "kind": "attestation", "predicate_type": f"https://example/{kind}",
            "predicate_kind": kind, "subject_matches": matches, "verified": verified}


def _data() -> AuditData:
    return make_data(
        registry_tags=[_tag(0), _tag(1), _tag(2), _tag(3), _tag(4), _tag(5, checked=False),
                       _tag(6)],
        image_signatures=[_sig(0, True), _sig(1, False, "the payload was changed"),
                          _sig(3, None), _sig(4, True), _sig(6, True)],
        image_attestations=[
            _att(0, "provenance"), _att(0, "sbom-spdx", index=1),
            _att(1, "provenance"), _att(1, "sbom-cyclonedx", index=1),
            _att(3, "provenance", None), _att(3, "sbom-spdx", None, index=1),
            _att(4, "provenance"),
            _att(6, "provenance", matches=False), _att(6, "sbom-spdx", False, index=1),
        ],
        images=[{"image_id": IDS[7], "host": "h"}],
    )


def test_verified_signature_with_provenance_and_sbom_passes() -> None:
    status, evidence = _result(_data(), IDS[0])
    assert status == "pass"
    assert "cosign.pub" in evidence and "provenance" in evidence and "SBOM" in evidence


def test_failures_say_which_and_why() -> None:
    data = _data()
    status, evidence = _result(data, IDS[1])
    assert status == "fail" and "does not verify: the payload was changed" in evidence
    assert _result(data, IDS[2]) == (
        "fail", "no cosign signature; no provenance attestation; no SBOM attestation")
    status, evidence = _result(data, IDS[4])
    assert status == "fail" and evidence == "no SBOM attestation"
    status, evidence = _result(data, IDS[6])  # about another digest; failed to verify
    assert status == "fail" and "no provenance" not in evidence
    assert "provenance attestation does not verify" in evidence
    assert "SBOM attestation does not verify" in evidence


def test_unknown_is_no_data() -> None:
    data = _data()
    status, evidence = _result(data, IDS[3])  # signed, but no key given
    assert status == "no-data" and "--cosign-key" in evidence
    status, evidence = _result(data, IDS[5])  # the lookup failed
    assert status == "no-data" and "registry was not collected" in evidence
    assert _result(data, IDS[7])[0] == "no-data"  # never collected from a registry


def test_parameters_relax_the_requirements() -> None:
    assert _result(_data(), IDS[4], require_sbom=False)[0] == "pass"
    status, evidence = _result(_data(), IDS[3], require_signature=False)
    assert status == "pass" and "signature" not in evidence

"""Rules about where an image comes from: whether it is signed and attested in its registry.

The registry collector records each image's cosign signatures and its attestations and attached
SBOMs (`image_signatures`, `image_attestations`), verified with the keys given
(`auditlib collect --cosign-key`), and says in `registry_tags.artifacts_checked` that it looked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from auditlib.fleet.view import FleetView
from auditlib.policy.model import Param, Rule, Verdict
from auditlib.policy.rules._frames import evidence_list


def _by_image(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    df = df.dropna(subset=["image_id"])
    return {str(i): g for i, g in df.groupby(df["image_id"].astype(str), observed=True)}


def _flag(s: pd.Series, value: bool) -> pd.Series:
    """Return where the nullable boolean `s` is `value` (missing is neither)."""
    return s.astype("boolean").eq(value).fillna(False).astype(bool)


def _first_failure(df: pd.DataFrame) -> str:
    reasons = [str(r) for r in df["failure"].dropna()]
    return reasons[0] if reasons else "no reason given"


def _signature(sigs: pd.DataFrame | None) -> tuple[str | None, str | None, str | None]:
    """Return (what passed, what failed, what is unknown) about an image's signatures."""
    if sigs is None or sigs.empty:
        return None, "no cosign signature", None
    good = sigs[_flag(sigs["verified"], True)]
    if len(good):
        keys = sorted({str(k) for k in good["verified_by"].dropna()})
        return f"signature verified with {evidence_list(keys)}", None, None
    bad = sigs[_flag(sigs["verified"], False)]
    if len(bad):
        return None, f"the signature does not verify: {_first_failure(bad)}", None
    return None, None, (f"{len(sigs)} signature(s) found, but no key was given to verify them "
                        "(auditlib collect --cosign-key)")


def _attested(atts: pd.DataFrame | None, kind: str, name: str) -> tuple[str | None, str | None]:
    """Return (what passed, what failed) about the image's attestations of one kind
    (`provenance`, or `sbom` for any SBOM)."""
    if atts is None or atts.empty:
        return None, f"no {name} attestation"
    kinds = atts["predicate_kind"].astype(str)
    mine = atts[kinds.str.startswith("sbom") if kind == "sbom" else kinds.eq(kind)]
    usable = mine[~_flag(mine["verified"], False) & ~_flag(mine["subject_matches"], False)]
    if len(usable):
        how = sorted({str(t) for t in usable["predicate_type"].dropna()})
        return f"{name} ({evidence_list(how)})", None
    if len(mine):
        return None, f"the {name} attestation does not verify: {_first_failure(mine)}"
    return None, f"no {name} attestation"


def _signed_and_attested(ctx: FleetView, params: Mapping[str, Any]) -> list[Verdict]:
    rt = ctx.data.registry_tags.dropna(subset=["image_id"])
    checked = set(rt.loc[_flag(rt["artifacts_checked"], True), "image_id"].astype(str))
    sigs = _by_image(ctx.data.image_signatures)
    atts = _by_image(ctx.data.image_attestations)
    out = []
    for image_id in ctx.image_ids:
        if image_id not in checked:
            continue
        good: list[str] = []
        bad: list[str] = []
        unknown: list[str] = []
        if params["require_signature"]:
            ok, fail, unsure = _signature(sigs.get(image_id))
            good += [ok] if ok else []
            bad += [fail] if fail else []
            unknown += [unsure] if unsure else []
        for wanted, kind, name in ((params["require_provenance"], "provenance", "provenance"),
                                   (params["require_sbom"], "sbom", "SBOM")):
            if wanted:
                ok, fail = _attested(atts.get(image_id), kind, name)
                good += [ok] if ok else []
                bad += [fail] if fail else []
        if bad:
            out.append(Verdict(image_id, "fail", "; ".join(bad + unknown)))
        elif unknown:
            out.append(Verdict(image_id, "no-data", "; ".join(unknown + good)))
        else:
            out.append(Verdict(image_id, "pass", "; ".join(good) or "nothing was required"))
    return out


SIGNED_AND_ATTESTED = Rule(
    slug="signed-and-attested",
    title="Signed, with provenance and SBOM attestations",
    rationale="A signature verified with the team's key proves the image in the registry is the "
    "one the pipeline built, not one pushed over it; provenance says how and from what source it "
    "was built, and an attached SBOM says what is inside without a rescan. Without them a "
    "deployment cannot tell a trusted image from a look-alike.",
    severity="high",
    points=15,
    evaluate=_signed_and_attested,
    params=(
        Param("require_signature", True,
              "A cosign signature of the image's digest must verify with a key given to "
              "`auditlib collect --cosign-key` (no key given: `no-data`)."),
        Param("require_provenance", True,
              "An attestation of SLSA provenance (`https://slsa.dev/provenance/...`) must be "
              "attached (cosign `.att`, a referrer, or BuildKit's), and verify when keys are "
              "given and it is signed."),
        Param("require_sbom", True,
              "An SBOM must be attached: an SPDX, CycloneDX or Syft attestation, or an SBOM "
              "attached as it is (`cosign attach sbom`, an SBOM referrer)."),
    ),
    no_data="the registry was not collected for the image, or its signatures and attestations "
    "could not be read (`auditlib collect --registry REPO`)",
    scout="Supply chain attestations (`supply-chain-attestations`, 15 points): violated when the "
    "image lacks an SBOM attestation or a provenance attestation (Scout also wants provenance of "
    "mode max, which this rule does not check). Scout does not verify signatures.",
    others="`cosign verify --key cosign.pub` and `cosign verify-attestation --type "
    "slsaprovenance`; admission controllers (Sigstore policy-controller, Kyverno "
    "`verifyImages`) enforce the same before a pod runs.",
    needs="registry_tags.artifacts_checked, image_signatures, image_attestations",
)

RULES = (SIGNED_AND_ATTESTED,)
"""The rules of this module, in the order reports list them."""

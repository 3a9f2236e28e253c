"""What the three VEX formats share: the statuses, and how a product is named.

OpenVEX, CycloneDX VEX and CSAF 2.0 VEX say the same four things in different words; rows of
`vex_statements` use OpenVEX's (`STATUSES`) and keep the document's own word beside it. A product
is an image (a reference, a digest, or a `pkg:oci/` purl) or a package (any other purl), or, in
CSAF, a product name; `product_columns` says which, in the table's columns.
"""

from __future__ import annotations

from urllib.parse import unquote

from packageurl import PackageURL

from auditlib.identity import normalize_digest, parse_reference
from auditlib.parsers._cyclonedx_model import purl_of
from auditlib.rows import Row

__all__ = ["STATUSES", "oci_reference", "product_columns", "purl_of"]

STATUSES = ("not_affected", "fixed", "under_investigation", "affected")
"""The statuses of `vex_statements.status` (OpenVEX's words), in the order they are shown: those
that settle a finding first."""


def oci_reference(purl: PackageURL) -> str | None:
    """Return the image a `pkg:oci/` purl names, as a normalised reference, or None when it
    names no repository (`pkg:oci/debian` names an image by its last path component only).

    The reference carries the `tag` qualifier when there is one; without it, it is the
    repository alone (`docker.io/library/debian`), which every tag of it matches.
    """
    quals = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    repo = quals.get("repository_url")
    if not repo:
        return None
    repo = repo.split("://", 1)[-1].rstrip("/")
    if repo.rsplit("/", 1)[-1] != purl.name:
        repo = f"{repo}/{purl.name}"  # `repository_url=registry.k8s.io`: the registry alone
    tag = quals.get("tag")
    ref = parse_reference(f"{repo}:{tag}" if tag else repo)
    if ref is None:
        return None
    return str(ref) if tag else ref.name


def product_columns(product: str, *, reference: bool = True) -> Row:
    """Return the `product`, `product_purl`, `product_digest` and `product_ref` columns of a
    product as a document names it (an image reference, a digest, a purl, or a name).

    Args:
        product: the product as written.
        reference: whether a product that is neither a purl nor a digest may be an image
            reference; False where the format's names are free text (a CSAF product name such
            as `nginx` is not `docker.io/library/nginx`: it names no image).
    """
    row: Row = {"product": product, "product_purl": None, "product_digest": None,
                "product_ref": None}
    purl = purl_of(product)
    if purl is not None:
        row["product_purl"] = product
        if purl.type == "oci":
            row["product_digest"] = normalize_digest(unquote(purl.version or ""))
            row["product_ref"] = oci_reference(purl)
        return row
    digest = normalize_digest(product)
    if digest is not None:
        row["product_digest"] = digest
        return row
    ref = parse_reference(product) if reference else None
    if ref is not None:
        row["product_digest"] = ref.digest
        # A reference written without a tag names the repository (every tag), not `:latest`.
        written_tag = ":" in product.rsplit("/", 1)[-1].split("@", 1)[0]
        row["product_ref"] = str(ref) if written_tag or ref.digest else ref.name
    return row

"""Image references and digests are normalised by the Docker reference grammar."""

from __future__ import annotations

import pytest

from auditlib.identity import normalize_digest, normalize_reference, parse_reference

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("nginx:1.25-alpine", "docker.io/library/nginx:1.25-alpine"),
        ("library/nginx", "docker.io/library/nginx:latest"),
        ("docker.io/nginx", "docker.io/library/nginx:latest"),
        ("index.docker.io/library/nginx:1", "docker.io/library/nginx:1"),
        ("local/debian:bookworm", "docker.io/local/debian:bookworm"),
        ("ghcr.io/org/app:v1.2.3", "ghcr.io/org/app:v1.2.3"),
        ("localhost:5000/team/app", "localhost:5000/team/app:latest"),
        (f"nginx@{D}", f"docker.io/library/nginx@{D}"),
        (f"nginx:1.25@{D}", f"docker.io/library/nginx:1.25@{D}"),
        ("registry.example.com:8443/a/b/c:t", "registry.example.com:8443/a/b/c:t"),
        # Not references: an upper-case repository, a path, an archive, text with spaces.
        ("Nginx", None),
        ("/tmp/image", None),
        ("testdata/fixtures/images/alpine-310.tar.gz", None),
        ("alpine:3.10 (alpine 3.10.2)", None),
        ("nginx@sha256:short", None),
        ("", None),
    ],
)
def test_normalize_reference(text: str, expected: str | None) -> None:
    assert normalize_reference(text) == expected


def test_parse_reference_parts() -> None:
    ref = parse_reference(f"localhost:5000/team/app:1.0@{D}")
    assert ref is not None
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        "localhost:5000",
        "team/app",
        "1.0",
        D,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (D, D),
        (D.upper().replace("SHA256", "sha256"), D),
        ("ab" * 32, D),
        ("sha256:12", None),
        (None, None),
        (5, None),
    ],
)
def test_normalize_digest(value: object, expected: str | None) -> None:
    assert normalize_digest(value) == expected


def test_an_image_id_is_not_a_reference() -> None:
    from auditlib.identity import normalize_reference

    hex64 = "ab" * 32
    assert normalize_reference(f"sha256:{hex64}") is None
    assert normalize_reference(hex64) is None
    assert normalize_reference("sha256:abcdef123456") is None
    assert normalize_reference("sha256") == "docker.io/library/sha256:latest"

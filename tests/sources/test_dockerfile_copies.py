"""`dockerfile_copies` and `dockerfiles.final_upgrades_packages`: what the final image holds."""

from __future__ import annotations

from auditlib.sources.dockerfile import parse_dockerfile

MULTI = """\
FROM golang:1.22 AS build
WORKDIR /src
COPY go.mod config.yaml ./
RUN apt-get update && apt-get upgrade -y
FROM debian:12-slim AS base
RUN apk upgrade --no-cache
FROM base
WORKDIR /etc/app
COPY --from=build /src/config.yaml .
COPY nginx.conf /etc/nginx/nginx.conf
COPY ["settings.json", "conf.d/"]
ADD .env relative/
"""


def _copies(text: str) -> list[tuple[object, ...]]:
    out = parse_dockerfile(text, source="Dockerfile")
    return [(r["line"], r["stage_index"], r["copy_from"], r["source_path"], r["target_path"],
             r["is_config"], r["in_final_image"]) for r in out.copies]


def test_copies_land_where_workdir_and_destination_say() -> None:
    assert _copies(MULTI) == [
        (3, 0, None, "go.mod", "/src/go.mod", False, False),
        (3, 0, None, "config.yaml", "/src/config.yaml", True, False),
        (9, 2, "build", "/src/config.yaml", "/etc/app/config.yaml", True, True),
        (10, 2, None, "nginx.conf", "/etc/nginx/nginx.conf", True, True),
        (11, 2, None, "settings.json", "/etc/app/conf.d/settings.json", False, True),
        (12, 2, None, ".env", "/etc/app/relative/.env", True, True),
    ]


def test_final_stage_upgrade_follows_from_stages() -> None:
    [df] = parse_dockerfile(MULTI, source="Dockerfile").dockerfiles
    # The build stage's apt-get upgrade is not in the image; `FROM base`'s apk upgrade is.
    assert df["upgrades_packages"] is True and df["final_upgrades_packages"] is True
    [df] = parse_dockerfile("FROM debian:12 AS b\nRUN apt-get upgrade -y\nFROM debian:12\n",
                            source="D").dockerfiles
    assert df["upgrades_packages"] is True and df["final_upgrades_packages"] is False
    [df] = parse_dockerfile("# nothing\n", source="D").dockerfiles
    assert df["final_upgrades_packages"] is None


def test_copies_are_recorded_once_for_a_dockerfile_that_builds() -> None:
    out = parse_dockerfile(MULTI, source="Dockerfile")
    [df] = out.dockerfiles
    assert df["copies_recorded"] is True
    assert df["config_copy_count"] == sum(1 for r in out.copies if r["is_config"]) == 4
    [none] = parse_dockerfile("COPY a.conf /etc/\n", source="D").dockerfiles
    assert none["copies_recorded"] is False and none["config_copy_count"] == 0


def test_relative_destination_on_an_image_base_is_unresolved() -> None:
    # The base image's WORKDIR is not known: a relative destination lands somewhere unknown.
    assert _copies("FROM debian:12\nCOPY app.conf .\n") == [
        (2, 0, None, "app.conf", None, True, True)]
    assert _copies("FROM scratch\nCOPY app.conf .\n") == [
        (2, 0, None, "app.conf", "/app.conf", True, True)]
    assert _copies("FROM debian:12\nARG D\nWORKDIR $D\nCOPY a.ini b/\n")[0][4] is None


def test_copy_text_is_redacted() -> None:
    token = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"
    out = parse_dockerfile(f"FROM scratch\nCOPY {token}.conf /etc/\n", source="D")
    assert token not in repr(out.copies)
    assert out.copies[0]["is_config"] is True

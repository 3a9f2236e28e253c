"""Dockerfiles: the corpus Dockerfile, and a table of small written ones.

Row meanings checked here: one `dockerfiles` row per file; one `dockerfile_stages` row per `FROM`;
one `dockerfile_secret_names` row per secret-looking `ENV`/`ARG` name declared. No ENV or ARG
value is ever in a row or a warning.
"""

from __future__ import annotations

from typing import Any

import pytest

from auditlib.data import AuditData
from auditlib.normalize.secret_env import is_secret_name
from auditlib.sources.dockerfile import DockerfileRows, parse_dockerfile
from auditlib.tables import (
    DOCKERFILE_COPIES,
    DOCKERFILE_SECRET_NAMES,
    DOCKERFILE_STAGES,
    DOCKERFILES,
    Table,
    frame,
    has_dtype,
)
from tests.conftest import CORPUS, _corpus_missing

# Every secret value in the written Dockerfiles contains this marker: it must never come out.
SECRET = "s3cr3tVALUE"


def _parse(text: str, source: str = "Dockerfile") -> DockerfileRows:
    return parse_dockerfile(text, source=source)


def _assert_typed(table: Table, rows: list[dict[str, Any]]) -> None:
    """The rows build a frame of the declared columns and dtypes, losing no value."""
    columns = {c: [r[c] for r in rows] for c in rows[0]} if rows else {}
    df = frame(table, columns, len(rows))
    for col in table.columns:
        assert has_dtype(df[col.name], col.dtype), col.name
        if col.name in columns:
            given = [v is not None for v in columns[col.name]]
            assert df[col.name].notna().tolist() == given, col.name


def _assert_no_value(out: DockerfileRows, *values: str) -> None:
    text = repr(out)
    for value in values:
        assert value not in text


def test_corpus_dockerfile_debian_latest_secret_env() -> None:
    path = CORPUS / "dockerfiles" / "debian-latest-secret-env.Dockerfile"
    if not path.exists():
        _corpus_missing()
    out = _parse(path.read_text(), str(path))
    assert out.warnings == []
    [df] = out.dockerfiles
    assert df == {
        "path": str(path),
        "stage_count": 1,
        "is_multi_stage": False,
        "final_base_ref": "docker.io/library/debian:latest",
        "final_base_is_latest": True,
        "final_base_is_pinned": False,
        "final_user": None,
        "final_user_is_root": True,
        "has_healthcheck": False,
        "upgrades_packages": False,  # `apt-get update` only refreshes the lists
        "final_upgrades_packages": False,
        "secret_env_names_count": 1,
        "config_copy_count": 1,  # app.conf
        "instruction_count": 6,
        "copies_recorded": True,
    }
    [stage] = out.stages
    assert stage["base_raw"] == "debian:latest" and stage["line"] == 1
    assert (stage["base_registry"], stage["base_repository"], stage["base_tag"]) == (
        "docker.io", "library/debian", "latest",
    )
    assert out.secret_names == [
        {"path": str(path), "stage_index": 0, "instruction": "ENV", "name": "DB_PASSWORD",
         "line": 3}
    ]
    assert out.copies == [
        {"path": str(path), "line": 4, "stage_index": 0, "instruction": "COPY",
         "copy_from": None, "source_path": "app.conf", "destination": "/etc/app.conf",
         "target_path": "/etc/app.conf", "is_config": True, "in_final_image": True}
    ]
    _assert_no_value(out, "hunter2")
    _assert_typed(DOCKERFILES, out.dockerfiles)
    _assert_typed(DOCKERFILE_STAGES, out.stages)
    _assert_typed(DOCKERFILE_SECRET_NAMES, out.secret_names)
    _assert_typed(DOCKERFILE_COPIES, out.copies)


DIGEST = "sha256:" + "a" * 64

# (Dockerfile, expected `dockerfiles` fields, expected fields of each stage in order).
CASES = [
    pytest.param(
        "FROM golang:1.22 AS Build\nRUN go build -o /app\n"
        "FROM build AS test\nRUN go test\n"
        "FROM gcr.io/distroless/static:nonroot\nCOPY --from=build /app /app\nUSER nonroot\n",
        {"stage_count": 3, "is_multi_stage": True,
         "final_base_ref": "gcr.io/distroless/static:nonroot", "final_base_is_latest": False,
         "final_user": "nonroot", "final_user_is_root": False, "instruction_count": 7},
        [{"stage_name": "build", "base_ref": "docker.io/library/golang:1.22",
          "is_stage_ref": False},
         {"stage_name": "test", "base_raw": "build", "base_ref": None, "is_stage_ref": True,
          "is_latest": None},
         {"stage_name": None, "base_registry": "gcr.io", "base_repository": "distroless/static"}],
        id="multi-stage-as-and-from-stage",
    ),
    pytest.param(
        "FROM alpine:3.20 AS base\nUSER app\nHEALTHCHECK CMD wget -q localhost\nFROM base\n",
        {"final_base_ref": "docker.io/library/alpine:3.20", "final_user": "app",
         "final_user_is_root": False, "has_healthcheck": True},
        [{"is_stage_ref": False}, {"is_stage_ref": True}],
        id="final-stage-inherits-user-and-healthcheck-from-its-stage",
    ),
    pytest.param(
        "ARG REGISTRY=ghcr.io\nARG IMAGE\nARG TAG=1.0\n"
        "FROM ${REGISTRY}/org/${IMAGE:-app}:$TAG\n",
        {"final_base_ref": "ghcr.io/org/app:1.0", "instruction_count": 4},
        [{"base_raw": "${REGISTRY}/org/${IMAGE:-app}:$TAG", "base_ref": "ghcr.io/org/app:1.0",
          "base_tag": "1.0", "line": 4}],
        id="global-arg-substitution-with-default",
    ),
    pytest.param(
        "ARG VERSION\nFROM python:${VERSION}\n",
        {"final_base_ref": None, "final_base_is_latest": None, "final_base_is_pinned": None},
        [{"base_raw": "python:${VERSION}", "base_ref": None, "is_scratch": False}],
        id="arg-without-default-is-unresolved",
    ),
    pytest.param(
        "FROM --platform=$BUILDPLATFORM node:20 AS web\n",
        {"final_base_ref": "docker.io/library/node:20"},
        [{"platform": "$BUILDPLATFORM", "stage_name": "web"}],
        id="platform-flag",
    ),
    pytest.param(
        f"FROM nginx:1.27@{DIGEST}\n",
        {"final_base_is_pinned": True, "final_base_is_latest": False},
        [{"base_tag": "1.27", "base_digest": DIGEST, "is_pinned_digest": True}],
        id="digest-pin",
    ),
    pytest.param(
        f"FROM nginx@{DIGEST}\n",
        {"final_base_is_pinned": True, "final_base_is_latest": False},
        [{"base_tag": None, "base_digest": DIGEST}],
        id="digest-only-is-not-latest",
    ),
    pytest.param(
        "FROM ubuntu\n",
        {"final_base_ref": "docker.io/library/ubuntu:latest", "final_base_is_latest": True,
         "final_base_is_pinned": False},
        [{"base_tag": "latest", "is_latest": True}],
        id="no-tag-is-latest",
    ),
    pytest.param(
        "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n",
        {"final_base_ref": None, "final_base_is_latest": None, "final_user_is_root": True},
        [{"is_scratch": True, "base_ref": None, "base_raw": "scratch"}],
        id="scratch",
    ),
    pytest.param(
        "FROM debian:12\nRUN apt-get update \\\n    && apt-get install -y curl \\\n"
        "    # a comment inside the continuation\n\n    && apt-get dist-upgrade -y\n"
        "USER 1000\n",
        {"upgrades_packages": True, "instruction_count": 3, "final_user_is_root": False},
        [{"line": 1}],
        id="continuation-lines-with-comment-and-blank",
    ),
    pytest.param(
        "FROM debian:12\nRUN <<EOF\nset -e\nFROM evil:latest\nUSER root\napt-get upgrade -y\nEOF\n"
        "USER app\n",
        {"stage_count": 1, "upgrades_packages": True, "final_user": "app",
         "instruction_count": 3},
        [{"base_ref": "docker.io/library/debian:12"}],
        id="heredoc-body-is-not-instructions",
    ),
    pytest.param(
        "FROM alpine:3\nCOPY <<-'EOF' /etc/app.conf\n\tFROM x\n\tEOF\nRUN apk upgrade --no-cache\n",
        {"stage_count": 1, "upgrades_packages": True, "config_copy_count": 0,
         "instruction_count": 3},
        [{}],
        id="copy-heredoc-with-tab-strip",
    ),
    pytest.param(
        'FROM fedora:40\nRUN ["/bin/sh", "-c", "dnf -y upgrade && dnf clean all"]\n',
        {"upgrades_packages": True},
        [{}],
        id="json-form-run-with-upgrade",
    ),
    pytest.param(
        "FROM alpine:3\nRUN apk add --no-cache -U curl\nRUN apt-get update\n"
        "RUN yum install -y httpd\n",
        {"upgrades_packages": False},
        [{}],
        id="update-cache-is-not-an-upgrade",
    ),
    pytest.param(
        "FROM alpine:3\nRUN apk add --upgrade openssl\n",
        {"upgrades_packages": True},
        [{}],
        id="apk-add-upgrade",
    ),
    pytest.param(
        "FROM ubi9/ubi-minimal\nRUN microdnf upgrade -y\n",
        {"upgrades_packages": True},
        [{}],
        id="microdnf-upgrade",
    ),
    pytest.param(
        "FROM centos:7\nRUN yum update -y\n",
        {"upgrades_packages": True},
        [{}],
        id="yum-update",
    ),
    pytest.param(
        "FROM debian:12\nUSER app\nUSER 0:0\n",
        {"final_user": "0:0", "final_user_is_root": True},
        [{}],
        id="user-0-0-is-root",
    ),
    pytest.param(
        "FROM debian:12\nENV APP_UID=1000\nUSER $APP_UID\n",
        {"final_user": "$APP_UID", "final_user_is_root": False},
        [{}],
        id="user-from-env-variable",
    ),
    pytest.param(
        "FROM debian:12\nUSER $UNKNOWN\n",
        {"final_user": "$UNKNOWN", "final_user_is_root": None},
        [{}],
        id="user-unresolved",
    ),
    pytest.param(
        "FROM debian:12\nHEALTHCHECK --interval=5s CMD curl -f localhost\nHEALTHCHECK NONE\n",
        {"has_healthcheck": False},
        [{}],
        id="healthcheck-none",
    ),
    pytest.param(
        "from node:20 as Web\nrun apt-get upgrade\nuser node\n"
        "healthcheck cmd [\"node\", \"h.js\"]\n",
        {"upgrades_packages": True, "final_user": "node", "final_user_is_root": False,
         "has_healthcheck": True, "instruction_count": 4},
        [{"stage_name": "web", "base_ref": "docker.io/library/node:20"}],
        id="lowercase-instructions",
    ),
    pytest.param(
        "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\n"
        "RUN dir C:\\ `\n    && echo done\nCOPY app.ini C:\\app\\\n",
        {"final_base_ref": "mcr.microsoft.com/windows/servercore:ltsc2022",
         "instruction_count": 3, "config_copy_count": 1},
        [{"base_registry": "mcr.microsoft.com"}],
        id="escape-directive-backtick",
    ),
    pytest.param(
        f"ARG GITHUB_TOKEN={SECRET}1\nFROM debian:12\n"
        f"ENV DB_PASSWORD={SECRET}2 VITE_OPENAI_API_KEY=\"{SECRET}3 x\" LANG=C.UTF-8\n"
        f"ENV AWS_SECRET_ACCESS_KEY {SECRET}4 and more\n"
        f"ARG HF_TOKEN={SECRET}5\nENV POSTGRES_PASSWORD_FILE=/run/secrets/pg\n"
        f"RUN echo ok\nUSER app\n",
        {"secret_env_names_count": 5},
        [{}],
        id="secret-env-names-never-values",
    ),
    pytest.param(
        "FROM python:3.12-slim\nCOPY .env config.json requirements.txt /app/\n"
        "ADD settings.yaml app.properties server.pem tls.key /etc/\n"
        "COPY [\"id_rsa\", \"/root/.ssh/id_rsa\"]\nCOPY . /app\n",
        {"config_copy_count": 7},
        [{}],
        id="config-like-copies",
    ),
]


@pytest.mark.parametrize(("text", "expected", "stages"), CASES)
def test_written_dockerfiles(
    text: str, expected: dict[str, Any], stages: list[dict[str, Any]]
) -> None:
    out = _parse(text)
    [df] = out.dockerfiles
    assert {k: df[k] for k in expected} == expected
    assert len(out.stages) == len(stages) == df["stage_count"]
    for i, (row, want) in enumerate(zip(out.stages, stages, strict=True)):
        assert row["stage_index"] == i
        assert {k: row[k] for k in want} == want, f"stage {i}"
    assert SECRET not in repr(out), "an ENV/ARG value leaked into the rows or warnings"
    _assert_typed(DOCKERFILES, out.dockerfiles)
    _assert_typed(DOCKERFILE_STAGES, out.stages)
    if out.secret_names:
        _assert_typed(DOCKERFILE_SECRET_NAMES, out.secret_names)


def test_secret_names_rows() -> None:
    text = (
        f"ARG GITHUB_TOKEN={SECRET}\nFROM debian:12\nENV DB_PASSWORD={SECRET} LANG=C\n"
        f"ENV AWS_SECRET_ACCESS_KEY {SECRET}\nARG GITHUB_TOKEN\n"
    )
    out = _parse(text)
    got = [(r["stage_index"], r["instruction"], r["name"], r["line"]) for r in out.secret_names]
    assert got == [
        (None, "ARG", "GITHUB_TOKEN", 1),
        (0, "ENV", "DB_PASSWORD", 3),
        (0, "ENV", "AWS_SECRET_ACCESS_KEY", 4),
        (0, "ARG", "GITHUB_TOKEN", 5),
    ]
    assert out.dockerfiles[0]["secret_env_names_count"] == 3  # distinct names
    assert SECRET not in repr(out)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("AWS_ACCESS_KEY_ID", True), ("AZURE_CLIENT_ID", True), ("HF_TOKEN", True),
        ("REACT_APP_GITHUB_TOKEN", True), ("VITE_AZURE_CLIENT_ID", True),
        ("db_password", True), ("MYSQL_ROOT_PASSWD", True), ("JWT_SECRET", True),
        ("STRIPE_API_KEY", True), ("SSH_PRIVATE_KEY", True), ("GCP_CREDENTIALS", True),
        ("NPM_TOKEN", True),
        ("POSTGRES_PASSWORD_FILE", False), ("HF_TOKEN_PATH", False),
        ("TOKENIZERS_PARALLELISM", False), ("TOKENIZER_SECRET", True),
        ("VITE_API_URL", False), ("LANG", False),
        ("PATH", False),
    ],
)
def test_is_secret_name(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("FROM debian:12\nRUN <<EOF\napt-get update\n", "heredoc 'EOF' is not terminated"),
        ("FROM debian:12\nFORM x\n", "unknown instruction"),
        ("RUN echo hi\nFROM debian:12\n", "RUN before the first FROM"),
        ("# just a comment\n", "no FROM instruction"),
        ("FROM Not/Valid\n", "is not a valid image reference"),
        ("FROM debian:12 AS\n", "FROM takes an image"),
        ("FROM a AS x\nFROM b AS x\n", "used by an earlier stage"),
        ("# escape=|\nFROM debian:12\n", "invalid escape token"),
        ("FROM debian:12\nHEALTHCHECK\n", "HEALTHCHECK takes NONE or CMD"),
    ],
)
def test_bad_input_warns_and_never_raises(text: str, reason: str) -> None:
    out = _parse(text)
    assert len(out.dockerfiles) == 1
    assert any(reason in r for _, r in out.warnings), out.warnings
    assert all(loc.startswith("line ") for loc, _ in out.warnings)


def test_stray_value_line_is_not_repeated_in_warnings() -> None:
    # A broken continuation leaves the value on a line of its own.
    out = _parse(f"FROM debian:12\nENV DB_PASSWORD=\n{SECRET}\n")
    assert out.warnings == [("line 3", "unknown instruction (not shown); ignored")]
    assert SECRET not in repr(out)


def test_empty_text_gives_one_row() -> None:
    out = _parse("")
    [df] = out.dockerfiles
    assert df["stage_count"] == 0 and df["instruction_count"] == 0
    assert df["final_user_is_root"] is None and df["has_healthcheck"] is None
    assert out.stages == [] and out.secret_names == []


def test_rows_by_table_and_audit_data_attributes() -> None:
    out = _parse("FROM debian:12\n")
    assert set(out.rows()) == {"dockerfiles", "dockerfile_stages", "dockerfile_secret_names",
                               "dockerfile_copies"}
    data = AuditData()
    for name in out.rows():
        assert list(getattr(data, name).columns) == {
            t.name: t for t in (DOCKERFILES, DOCKERFILE_STAGES, DOCKERFILE_SECRET_NAMES,
                                DOCKERFILE_COPIES)
        }[name].column_names


GH_TOKEN = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"  # a GitHub-token-shaped value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # A secret-named build argument is never substituted, whatever its value.
        (f"ARG BASE=debian\nARG TOKEN={GH_TOKEN}\nFROM $BASE:${{TOKEN}}\n",
         "build argument TOKEN looks like a secret"),
        (f"ARG DB_PASSWORD={SECRET}\nFROM debian:${{DB_PASSWORD:-12}}\n",
         "build argument DB_PASSWORD looks like a secret"),
        # Any other name whose value is a secret: the substituted base is not kept either.
        (f"ARG TAG={GH_TOKEN}\nFROM debian:${{TAG}} AS build\nFROM build\n",
         "give a value that looks like a secret (not shown)"),
    ],
)
def test_from_with_a_secret_build_argument_is_left_unresolved(text: str, reason: str) -> None:
    out = _parse(text)
    assert any(reason in r for _, r in out.warnings), out.warnings
    assert out.stages[0]["base_ref"] is None and out.stages[0]["base_tag"] is None
    assert out.dockerfiles[0]["final_base_ref"] is None
    _assert_no_value(out, GH_TOKEN, SECRET)


def test_from_with_plain_build_arguments_still_resolves() -> None:
    out = _parse("ARG BASE=debian\nARG VERSION=12\nFROM ${BASE}:${VERSION}-slim\n")
    assert out.stages[0]["base_ref"] == "docker.io/library/debian:12-slim"
    assert out.warnings == []

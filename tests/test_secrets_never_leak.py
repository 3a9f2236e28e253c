"""Secrets never reach a table, a store file, a log, an error or a page.

Inputs made here hold a secret in every field an adversarial run found one in: Trivy JSON labels
(a GitHub token, an AWS key id, a whole PEM private key), a `docker save` archive's history
(`curl -u`, `mysql -p`, `--password`, `ENV PASSWORD`, an echoed AWS secret access key) and its
entrypoint and cmd, Dockle alerts in Dockle JSON and in SARIF, and a Dockerfile `ARG TOKEN=ghp_...`
used in `FROM $BASE:${TOKEN}`. Each field has a fast test of its table; then the command line
(`ingest`, `collect`, `check --format json/junit`, `staleness`, `summarize`) and, marked slow, the
report pages are searched for every secret, byte by byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import auditlib
from auditlib.cli import main
from auditlib.data import AuditData
from auditlib.ingest.collect import to_audit_data
from auditlib.policy import evaluate, load_policy
from auditlib.sources.archive import collect_archive
from auditlib.sources.dockerfile import collect_dockerfile
from auditlib.store import read_current
from auditlib.tables import DATA_TABLES

# Each value below must never come out; each is unique, so that finding it means it leaked.
LABEL_GH_TOKEN = "ghp_" + "Lb1Lb2Lb3Lb4Lb5Lb6Lb7Lb8Lb9Lb0LbALbB"
LABEL_AWS_KEY_ID = "AKIA" + "LABELKEY7EXAMPLE"
PEM_BODY = ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7LeakyPemBody",
            "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG9QemBody2")
PEM = ("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(PEM_BODY)
       + "\n-----END RSA PRIVATE KEY-----\n")
CURL_PW = "CurlPw-h1st0ry"
MYSQL_PW = "MysqlPw-h1st0ry"
FLAG_PW = "FlagPw-h1st0ry"
ENV_PW = "EnvPw-h1st0ry"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example key
ENTRY_DB_PW = "EntryDbPw-3ntry"
ENTRY_TOKEN = "EntryTok-3ntry"
CMD_API_KEY = "CmdApiKey-cmd"
DOCKLE_PW = "DocklePw-d0ckle"
DOCKLE_HISTORY_PW = "DockleHistPw-d0ckle"
SARIF_PW = "SarifPw-s4rif"
DOCKERFILE_TOKEN = "ghp_" + "Df1Df2Df3Df4Df5Df6Df7Df8Df9Df0DfADfB"
DOCKERFILE_TAG_TOKEN = "ghp_" + "Tg1Tg2Tg3Tg4Tg5Tg6Tg7Tg8Tg9Tg0TgATgB"

SECRETS = (
    LABEL_GH_TOKEN, LABEL_AWS_KEY_ID, *PEM_BODY, CURL_PW, MYSQL_PW, FLAG_PW, ENV_PW, AWS_SECRET,
    ENTRY_DB_PW, ENTRY_TOKEN, CMD_API_KEY, DOCKLE_PW, DOCKLE_HISTORY_PW, SARIF_PW,
    DOCKERFILE_TOKEN, DOCKERFILE_TAG_TOKEN,
)

APP_REF = "registry.example.com/team/app:1.0"
TRIVY_IMAGE_ID = "sha256:" + "7" * 64

# --- the inputs ---------------------------------------------------------------------------------


def trivy_doc() -> dict[str, Any]:
    """A Trivy image report whose image labels hold a token, a key id and a PEM key."""
    return {
        "SchemaVersion": 2,
        "CreatedAt": "2026-11-30T10:00:00Z",
        "ArtifactName": "registry.example.com/team/labels:1.0",
        "ArtifactType": "container_image",
        "Metadata": {
            "ImageID": TRIVY_IMAGE_ID,
            "RepoTags": ["registry.example.com/team/labels:1.0"],
            "OS": {"Family": "debian", "Name": "12.5"},
            "ImageConfig": {
                "architecture": "amd64", "os": "linux", "created": "2026-11-01T00:00:00Z",
                "config": {"Labels": {
                    "org.opencontainers.image.source": "https://git.example.com/team/labels",
                    "org.example.ci-token": LABEL_GH_TOKEN,
                    "org.example.deploy": f"aws key {LABEL_AWS_KEY_ID}",
                    "org.example.signing-key": PEM,
                }},
            },
        },
        "Results": [{"Target": "registry.example.com/team/labels:1.0 (debian 12.5)",
                     "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": []}],
    }


def dockle_doc() -> dict[str, Any]:
    """A Dockle JSON report whose alerts quote an ENV value and a history step."""
    return {
        "image": APP_REF,
        "summary": {"fatal": 1, "warn": 0, "info": 0, "skip": 0, "pass": 10},
        "details": [{
            "code": "CIS-DI-0010", "title": "Do not store credential in ENVIRONMENT vars/files",
            "level": "FATAL",
            "alerts": [
                f"DB_PASSWORD={DOCKLE_PW}",
                "Suspicious ENV key found : DB_PASSWORD on /bin/sh -c #(nop)  ENV "
                f"DB_PASSWORD={DOCKLE_HISTORY_PW}",
            ],
        }],
    }


def dockle_sarif() -> dict[str, Any]:
    """Dockle's SARIF, whose message quotes an ENV value."""
    rule = {"id": "CIS-DI-0010",
            "shortDescription": {"text": "Do not store credential in ENVIRONMENT vars/files"}}
    message = f"Suspicious ENV key found : DB_PASSWORD={SARIF_PW}"
    return {
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "Dockle", "rules": [rule],
                                "informationUri": "https://github.com/goodwithtech/dockle"}},
            "results": [{"ruleId": "CIS-DI-0010", "level": "error", "message": {"text": message}}],
        }],
    }


DOCKERFILE = f"""\
ARG BASE=debian
ARG TOKEN={DOCKERFILE_TOKEN}
ARG TAG={DOCKERFILE_TAG_TOKEN}
FROM $BASE:${{TOKEN}} AS build
RUN make
FROM $BASE:${{TAG}}
COPY --from=build /out /app
"""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"#!/bin/sh\nexec server\n"
        info = tarfile.TarInfo("app/run")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


HISTORY = [
    "/bin/sh -c #(nop) ADD file:abc in / ",
    f"RUN /bin/sh -c curl -fsSL -u admin:{CURL_PW} https://artifacts.example.com/app.tgz",
    f"RUN /bin/sh -c mysql -uroot -p{MYSQL_PW} app < schema.sql",
    f"RUN /bin/sh -c ./configure-db --password {FLAG_PW} --port 5432",
    f"RUN /bin/sh -c echo {AWS_SECRET} > /root/creds",
    f"/bin/sh -c #(nop)  ENV PASSWORD {ENV_PW}",
]


def app_config() -> bytes:
    """An image config with secrets in its history, entrypoint and cmd."""
    layer = _layer()
    return json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2026-11-02T00:00:00Z",
        "config": {
            "Entrypoint": ["/app/run", "--db-password", ENTRY_DB_PW, "--token", ENTRY_TOKEN],
            "Cmd": ["serve", f"--api-key={CMD_API_KEY}"],
            "Env": ["PATH=/usr/bin:/bin", f"PASSWORD={ENV_PW}"],
            "User": "app",
            "Labels": {"org.opencontainers.image.source": "https://git.example.com/team/app"},
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + _sha(layer)]},
        "history": [{"created": "2026-11-02T00:00:00Z", "created_by": step,
                     "empty_layer": i > 0} for i, step in enumerate(HISTORY)],
    }).encode()


def write_archive(path: Path) -> Path:
    """Write a `docker save` tar (the layout before Docker 25) of the app image."""
    config, layer = app_config(), _layer()
    members = {
        f"{_sha(config)}.json": config,
        "l1/layer.tar": layer,
        "manifest.json": json.dumps([{"Config": f"{_sha(config)}.json", "RepoTags": [APP_REF],
                                      "Layers": ["l1/layer.tar"]}]).encode(),
    }
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1764000000
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("secret-inputs")
    scans = root / "scans"
    scans.mkdir()
    (scans / "trivy.json").write_text(json.dumps(trivy_doc()))
    (scans / "dockle.json").write_text(json.dumps(dockle_doc()))
    (scans / "dockle.sarif").write_text(json.dumps(dockle_sarif()))
    (root / "Dockerfile").write_text(DOCKERFILE)
    return {"scans": scans, "archive": write_archive(root / "app.tar"),
            "dockerfile": root / "Dockerfile"}


def _assert_clean_tables(data: AuditData) -> None:
    for table in DATA_TABLES:
        df = getattr(data, table.name)
        for col in df.columns:
            text = "\n".join(df[col].dropna().astype(str))
            for secret in SECRETS:
                assert secret not in text, (table.name, col, secret)


def _assert_clean_text(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, (where, secret)


# --- one fast test per field --------------------------------------------------------------------


def test_trivy_labels_token_key_id_and_whole_pem_block(inputs: dict[str, Path]) -> None:
    data = auditlib.load(inputs["scans"] / "trivy.json")
    labels = dict(zip(data.image_labels["label"], data.image_labels["value"], strict=True))
    assert labels["org.example.ci-token"] == "<redacted>"
    assert labels["org.example.deploy"] == "aws key <redacted>"
    assert labels["org.example.signing-key"].strip() == "<redacted>"  # body and END line too
    assert labels["org.opencontainers.image.source"] == "https://git.example.com/team/labels"
    _assert_clean_tables(data)


def test_archive_history_entrypoint_and_cmd(inputs: dict[str, Path]) -> None:
    data = to_audit_data([collect_archive(inputs["archive"])])
    steps = data.image_history.sort_values("step_index")["created_by"].tolist()
    assert steps[1:] == [
        "RUN /bin/sh -c curl -fsSL -u admin:<redacted> https://artifacts.example.com/app.tgz",
        "RUN /bin/sh -c mysql -uroot -p<redacted> app < schema.sql",
        "RUN /bin/sh -c ./configure-db --password <redacted> --port 5432",
        "RUN /bin/sh -c echo <redacted> > /root/creds",
        "/bin/sh -c #(nop)  ENV PASSWORD <redacted>",
    ]
    (entrypoint,) = data.images["entrypoint"].tolist()
    assert entrypoint == ("/app/run --db-password <redacted> --token <redacted> serve "
                          "--api-key=<redacted>")
    assert data.image_env.set_index("name").loc["PASSWORD", "looks_secret"]
    _assert_clean_tables(data)


@pytest.mark.parametrize("name", ["dockle.json", "dockle.sarif"])
def test_dockle_messages(inputs: dict[str, Path], name: str) -> None:
    data = auditlib.load(inputs["scans"] / name)
    messages = "\n".join(data.misconfigurations["message"].astype(str))
    assert "DB_PASSWORD=<redacted>" in messages and "Suspicious ENV key found" in messages
    _assert_clean_tables(data)


def test_dockerfile_arg_used_in_from(inputs: dict[str, Path]) -> None:
    data = to_audit_data([collect_dockerfile(inputs["dockerfile"], image_ref=APP_REF)])
    assert data.dockerfile_stages["base_ref"].isna().all()
    assert data.dockerfiles["final_base_ref"].isna().all()
    reasons = "\n".join(data.load_errors["reason"])
    assert "build argument TOKEN looks like a secret" in reasons
    _assert_clean_tables(data)


def test_policy_evidence_from_redacted_tables(inputs: dict[str, Path]) -> None:
    data = to_audit_data([collect_archive(inputs["archive"]),
                          collect_dockerfile(inputs["dockerfile"], image_ref=APP_REF)])
    results = evaluate(data, load_policy(None)).results
    _assert_clean_text("\n".join(results["evidence"].astype(str)), "evidence")


def test_frame_redacts_whatever_a_parser_forgets() -> None:
    """A parser that hands a secret to a declared column is redacted all the same."""
    from auditlib.ingest.accumulate import Accumulator
    from auditlib.ingest.reader import ingest_output
    from auditlib.rows import ImageInfo, Output

    out = Output("forgetful.json")
    out.scan.image = ImageInfo(image_id="sha256:" + "8" * 64, labels={"k": LABEL_GH_TOKEN},
                               entrypoint=f"run --password {FLAG_PW}")
    out.add("misconfigurations", {"rule_id": "X1", "message": f"DB_PASSWORD={DOCKLE_PW}"})
    out.add("image_history", {"step_index": 0, "created_by": f"echo {AWS_SECRET}"})
    out.warn("$.x", f"value --password {FLAG_PW} ignored")
    acc = Accumulator(pd.Timestamp("2026-12-01", tz="UTC").to_pydatetime())
    ingest_output(acc, out, "test", "1", "sha256:" + "9" * 64, 1)
    _assert_clean_tables(AuditData(**acc.build()))


# --- the command line and the store -----------------------------------------------------------


def _invoke(args: list[str]) -> Result:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    _assert_clean_text(result.stdout, f"stdout of {args[0]}")
    _assert_clean_text(result.stderr, f"stderr of {args[0]}")
    return result


def _assert_clean_folder(folder: Path) -> None:
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files, folder
    for path in files:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, (str(path), secret)


@pytest.fixture(scope="module")
def store(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store filled by `auditlib ingest` and `auditlib collect`, from the inputs above."""
    store = tmp_path_factory.mktemp("secret-store") / "store"
    result = _invoke(["ingest", str(inputs["scans"]), "--store", str(store)])
    assert result.exit_code == 0, result.output
    result = _invoke(["collect", "--archive", str(inputs["archive"]),
                      "--dockerfile", f"{inputs['dockerfile']}={APP_REF}", "--store", str(store)])
    assert result.exit_code == 0, result.output
    return store


def test_store_files_hold_no_secret(store: Path) -> None:
    _assert_clean_folder(store)
    data = read_current(store)
    _assert_clean_tables(data)
    assert (data.image_labels["value"] == "<redacted>").any()
    assert data.image_history["created_by"].str.contains("<redacted>").any()


def test_check_json_and_junit_hold_no_secret(store: Path, tmp_path: Path) -> None:
    result = _invoke(["check", "--store", str(store), "--format", "json", "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)
    assert results  # the document parsed; the secrets are not in it (checked in _invoke)
    junit = tmp_path / "policy.xml"
    result = _invoke(["check", "--store", str(store), "--format", "junit", "--fail-on", "never",
                      "--output", str(junit)])
    assert result.exit_code == 0, result.output
    _assert_clean_text(junit.read_text(), "junit")
    result = _invoke(["check", "--store", str(store), "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    result = _invoke(["staleness", "--store", str(store), "--format", "json"])
    assert result.exit_code == 0, result.output


def test_summarize_holds_no_secret(inputs: dict[str, Path]) -> None:
    result = _invoke(["summarize", str(inputs["scans"])])
    assert result.exit_code == 0, result.output


@pytest.mark.slow  # two notebooks executed with papermill
def test_report_pages_hold_no_secret(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    for report in ("explore", "compliance"):
        result = _invoke(["report", report, "--store", str(store), "--out", str(out)])
        assert result.exit_code == 0, result.output
    pages = list(out.rglob("*.html"))
    assert {p.name for p in pages} >= {"explore.html", "compliance.html"}
    assert "&lt;redacted&gt;" in (next(p for p in pages if p.name == "explore.html")).read_text()
    leaks = {s for s in SECRETS for p in pages if s in p.read_text()}
    print("LEAKS", sorted(leaks))
    _assert_clean_folder(out)
    _assert_clean_folder(store)  # the reports wrote nothing with a secret into the store

"""The image config a Syft SBOM of an image embeds (`source.metadata.config`, base64 of the config
JSON): decoded by the collectors' reader into the `images` row and the `image_labels`,
`image_layers`, `image_history` and `image_env` rows, checked against the config decoded here
(base64 + json, not auditlib); a corrupt config is one warning naming the file, and the rest of
the document still loads.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import auditlib
from tests.conftest import CORPUS, corpus_path

pytestmark = pytest.mark.corpus

BOOKWORM = "syft-json/syft-1.18.1-schema-16-debian-bookworm-image.json"


def _meta(doc: dict[str, Any]) -> dict[str, Any]:
    src = doc["source"]
    return src.get("metadata") or src["target"]


def _with_config() -> list[str]:
    if not CORPUS.is_dir():
        return []
    out = []
    for p in sorted((CORPUS / "syft-json").glob("*.json")):
        src = json.loads(p.read_bytes()).get("source") or {}
        meta = src.get("metadata") or src.get("target")
        if isinstance(meta, dict) and meta.get("config"):
            out.append(str(p.relative_to(CORPUS)))
    return out


def test_the_corpus_has_syft_configs() -> None:
    corpus_path(BOOKWORM)  # skips (fails under CI=true) when the corpus is absent
    assert BOOKWORM in _with_config() and len(_with_config()) >= 4


@pytest.mark.parametrize("rel", _with_config())
def test_config_fills_the_image(rel: str) -> None:
    doc = json.loads(corpus_path(rel).read_bytes())
    meta = _meta(doc)
    raw = base64.b64decode(meta["config"])
    config = json.loads(raw)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    # The config digest is the image id, and Syft's imageID says the same.
    assert digest == meta["imageID"]

    data = auditlib.load(corpus_path(rel))
    assert data.load_errors.empty, data.load_errors["reason"].tolist()
    assert data.images["image_id"].tolist() == [digest]
    img = data.images.iloc[0]
    body = config.get("config") or {}
    assert img["created_at"] == pd.Timestamp(config["created"])
    assert img["user"] == (body.get("User") or "")
    assert img["os"] == config["os"] and img["architecture"] == config["architecture"]
    labels = dict(zip(data.image_labels["label"], data.image_labels["value"], strict=True))
    assert labels == (body.get("Labels") or {})
    diff_ids = config["rootfs"]["diff_ids"]
    assert img["layer_count"] == len(diff_ids)
    assert data.image_layers.sort_values("layer_index")["diff_id"].astype(str).tolist() == diff_ids
    history = config.get("history") or []
    steps = data.image_history.sort_values("step_index")
    assert steps["created_by"].fillna("").tolist() == [h.get("created_by", "") for h in history]
    assert set(data.image_env["name"].astype(str)) == {
        e.split("=", 1)[0] for e in body.get("Env") or []}
    for table in (data.image_layers, data.image_history, data.image_env):
        assert set(table["image_id"]) <= {digest}
    # Packages are still read as before.
    assert len(data.packages) > 0


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "syft.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _bookworm() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(corpus_path(BOOKWORM).read_bytes())
    return doc


def test_a_config_with_labels_user_env_and_entrypoint(tmp_path: Path) -> None:
    doc = _bookworm()
    meta = _meta(doc)
    config = json.loads(base64.b64decode(meta["config"]))
    config["config"].update({
        "User": "app:app", "Labels": {"org.opencontainers.image.source": "https://x/y",
                                      "maintainer": "team"},
        "Env": ["PATH=/usr/bin", "DB_PASSWORD=hunter2x!"], "Entrypoint": ["/app", "--serve"],
        "ExposedPorts": {"8080/tcp": {}}, "Healthcheck": {"Test": ["CMD", "true"]},
    })
    raw = json.dumps(config).encode()
    meta["config"] = base64.b64encode(raw).decode()
    meta["imageID"] = "sha256:" + hashlib.sha256(raw).hexdigest()
    data = auditlib.load(_write(tmp_path, doc))
    assert data.load_errors.empty, data.load_errors["reason"].tolist()
    img = data.images.iloc[0]
    assert img["image_id"] == meta["imageID"]
    # Entrypoint and the config's `Cmd` (`bash`), as one command line.
    assert img["user"] == "app:app" and img["entrypoint"] == "/app --serve bash"
    assert img["exposed_ports"] == "8080/tcp" and bool(img["has_healthcheck"]) is True
    assert dict(zip(data.image_labels["label"], data.image_labels["value"], strict=True)) == {
        "org.opencontainers.image.source": "https://x/y", "maintainer": "team"}
    env = data.image_env.set_index("name")
    assert set(env.index) == {"PATH", "DB_PASSWORD"}
    assert bool(env.loc["DB_PASSWORD", "looks_secret"]) is True
    assert "hunter2x" not in data.image_env.to_string()


@pytest.mark.parametrize(("config", "reason"), [
    ("bm90IGEgY29uZmln!!", "not base64"),
    (base64.b64encode(b"{not json").decode(), "not a JSON config"),
    (base64.b64encode(b"[1, 2]").decode(), "a JSON list, not a config object"),
    (12, "not a base64 text"),
    (base64.b64encode(json.dumps({"created": "2020-01-01T00:00:00Z"}).encode()).decode(),
     "is not the imageID"),
])
def test_a_bad_config_is_a_warning_naming_the_file(
    tmp_path: Path, config: Any, reason: str
) -> None:
    doc = _bookworm()
    _meta(doc)["config"] = config
    path = _write(tmp_path, doc)
    data = auditlib.load(path)
    errors = data.load_errors
    assert (errors["level"] == "warning").all()
    assert errors[["source", "locator"]].values.tolist() == [
        [str(path), "$.source.metadata.config"]]
    assert errors["reason"].iloc[0].startswith("image config ignored: ")
    assert reason in errors["reason"].iloc[0]
    # The rest of the document loads: the scan, the image as Syft's metadata gives it, packages.
    assert data.files[0].error is None and data.files[0].warnings == 1
    assert len(data.packages) == len(doc["artifacts"])
    assert len(data.package_dependencies) == 216
    assert data.images["image_id"].tolist() == [_meta(doc)["imageID"]]
    assert data.images["created_at"].isna().all() and data.images["user"].isna().all()
    assert data.image_layers.empty and data.image_history.empty


def test_an_oversized_config_is_refused_before_it_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditlib.normalize import image_config

    monkeypatch.setattr(image_config, "MAX_CONFIG_BYTES", 100)
    path = _write(tmp_path, _bookworm())
    data = auditlib.load(path, workers=1)
    reason = data.load_errors["reason"].iloc[0]
    assert "more than a config of at most 100 bytes (MAX_CONFIG_BYTES)" in reason
    assert len(data.packages) == 88


def test_without_image_id_the_config_digest_names_the_image(tmp_path: Path) -> None:
    doc = _bookworm()
    meta = _meta(doc)
    expected = meta.pop("imageID")
    data = auditlib.load(_write(tmp_path, doc))
    assert data.images["image_id"].tolist() == [expected]
    assert set(data.packages["image_id"]) == {expected}


def test_a_directory_sbom_has_no_image(tmp_path: Path) -> None:
    doc = copy.deepcopy(_bookworm())
    doc["source"] = {"id": "x", "name": "/src", "type": "directory",
                     "metadata": {"path": "/src", "config": "garbage"}}
    data = auditlib.load(_write(tmp_path, doc))
    assert data.images.empty and data.load_errors.empty

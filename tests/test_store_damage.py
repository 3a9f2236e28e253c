"""A damaged store is never read silently: mistyped manifest fields, a manifest cut short, a
`carried` that points outside the store, a missing or wrong table file, a folder that cannot be
read. Every reader raises `DamagedStoreError` naming the snapshot and what is wrong; `check`,
`staleness`, `report` and `ingest` exit 2 with that one line (no traceback); `store verify` names
it; with `--allow-damaged` (or AUDITLIB_ALLOW_DAMAGED=1) they go on without it and say so in
every output.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from auditlib.cli import main
from auditlib.errors import StoreError
from auditlib.ingest.incremental import commit_ingest, load_planned, plan_ingest
from auditlib.store import list_snapshots, read_current, read_latest, read_snapshot
from auditlib.store.damage import ALLOW_DAMAGED_ENV, DamagedStoreError
from auditlib.store.manifest import scan_store
from tests.samples import TRIVY
from tests.test_history import write_doc

DEBIAN = copy.deepcopy(TRIVY)
DEBIAN["ArtifactName"] = "debian:12"
DEBIAN["Metadata"] = {"ImageID": "sha256:" + "2" * 64, "RepoTags": ["debian:12"]}
DEBIAN["Results"][0]["Target"] = "debian:12 (debian 12.5)"
DEBIAN["Results"][0]["Type"] = "debian"
DEBIAN["Results"][0]["Vulnerabilities"][0]["VulnerabilityID"] = "CVE-2024-0002"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of two snapshots: the first read fleet/alpine.json; the second read
    fleet/debian.json and carried alpine.json over (its rows stay in the first)."""
    root = tmp_path_factory.mktemp("pristine")
    fleet, store = root / "fleet", root / "store"
    write_doc(fleet / "alpine.json", TRIVY)
    for doc in (None, DEBIAN):
        if doc is not None:
            write_doc(fleet / "debian.json", doc)
        plan = plan_ingest(store, [str(fleet)])
        commit_ingest(plan, load_planned(plan))
    return root


@pytest.fixture
def store(pristine: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the pristine store to damage (its fleet beside it)."""
    shutil.copytree(pristine, tmp_path / "copy", symlinks=True)
    yield tmp_path / "copy" / "store"
    for p in (tmp_path / "copy").rglob("*"):  # an unreadable folder made readable, to clean up
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)


def _snaps(store: Path) -> tuple[Path, Path]:
    first, second = sorted((store / "snapshots").iterdir())
    return first, second


def _edit(snap: Path, change: Callable[[dict[str, Any]], None]) -> None:
    m = json.loads((snap / "manifest.json").read_text())
    change(m)
    (snap / "manifest.json").write_text(json.dumps(m))


def _set(key: str, value: Any, sub: str | None = None) -> Callable[[dict[str, Any]], None]:
    def change(m: dict[str, Any]) -> None:
        if sub is None:
            m[key] = value
        else:
            m[key][sub] = value
    return change


def _unreadable(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `folder` unreadable: chmod 000, and (as root, whom modes do not stop) make every
    look into it fail as it would for another user."""
    folder.chmod(0o000)
    if os.geteuid() != 0:
        return
    inside = str(folder) + os.sep

    def guard(real: Callable[..., Any], itself: bool) -> Callable[..., Any]:
        # Its entry in its parent can be looked at (lstat); what is in it cannot, nor can it be
        # listed or opened.
        def fake(path: Any, *args: Any, **kwargs: Any) -> Any:
            p = os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else ""
            if p.startswith(inside) or (itself and p.rstrip(os.sep) == str(folder)):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), p)
            return real(path, *args, **kwargs)
        return fake

    for name, itself in (("lstat", False), ("stat", False), ("open", True), ("scandir", True)):
        monkeypatch.setattr(os, name, guard(getattr(os, name), itself))


# Each damage: what to do to the store -> (which snapshot is damaged, what the message says, the
# image the store still has without it).
Damage = Callable[[Path, pytest.MonkeyPatch], tuple[str, str, str]]


def _rows_mistyped(store: Path, _mp: pytest.MonkeyPatch) -> tuple[str, str, str]:
    first, _ = _snaps(store)
    _edit(first, _set("rows", "abc", "scans"))
    return first.name, "manifest.json: `$.rows.scans` is 'abc', not a number of rows", "debian"


def _removed_mistyped(store: Path, _mp: pytest.MonkeyPatch) -> tuple[str, str, str]:
    _, second = _snaps(store)
    _edit(second, _set("removed", 5))
    return second.name, "manifest.json: Expected `array | null`, got `int` - at `$.removed`", \
        "alpine"


def _sources_mistyped(store: Path, _mp: pytest.MonkeyPatch) -> tuple[str, str, str]:
    first, _ = _snaps(store)
    _edit(first, _set("sources", 5))
    return first.name, "manifest.json: Expected `array | null`, got `int` - at `$.sources`", \
        "debian"


def _truncated(store: Path, _mp: pytest.MonkeyPatch) -> tuple[str, str, str]:
    first, _ = _snaps(store)
    text = (first / "manifest.json").read_text()
    (first / "manifest.json").write_text(text[: len(text) // 2])
    return first.name, "manifest.json is not valid JSON (cut short)", "debian"


def _carried_outside(store: Path, _mp: pytest.MonkeyPatch) -> tuple[str, str, str]:
    first, second = _snaps(store)
    outside = store.parent / "etc"  # a folder with a manifest, outside the store
    shutil.copytree(first, outside)
    _edit(second, lambda m: m["carried"][0].update(snapshot_id="../../../etc"))
    return second.name, ("manifest.json: `$.carried[0].snapshot_id` is '../../../etc', not a "
                         "snapshot id (a manifest names a snapshot of its store, never a path)"), \
        "alpine"


def _missing_table(store: Path, _mp: pytest.MonkeyPatch) -> tuple[str, str, str]:
    first, _ = _snaps(store)
    (first / "vulnerabilities.parquet").unlink()
    return first.name, "vulnerabilities.parquet is missing, but its manifest says it has 1 rows", \
        "debian"


def _unreadable_folder(store: Path, mp: pytest.MonkeyPatch) -> tuple[str, str, str]:
    first, _ = _snaps(store)
    _unreadable(first, mp)
    return first.name, "cannot read its folder (Permission denied)", "debian"


DAMAGES: dict[str, Damage] = {
    "rows-mistyped": _rows_mistyped,
    "removed-mistyped": _removed_mistyped,
    "sources-mistyped": _sources_mistyped,
    "truncated-manifest": _truncated,
    "carried-outside": _carried_outside,
    "missing-table": _missing_table,
    "unreadable-folder": _unreadable_folder,
}


def _run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


@pytest.mark.parametrize("kind", list(DAMAGES))
def test_a_damaged_store_stops_every_reader_with_exit_2_naming_the_snapshot(
        kind: str, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_DAMAGED_ENV, raising=False)
    sid, why, _ = DAMAGES[kind](store, monkeypatch)
    said = f"snapshot {sid}: {why}"
    with pytest.raises(DamagedStoreError) as e:
        read_current(store)
    assert said in str(e.value) and why in str(e.value)
    assert "auditlib store verify" in str(e.value) and "--allow-damaged" in str(e.value)
    with pytest.raises(DamagedStoreError):
        read_latest(store)
    fleet = store.parent / "fleet"
    for args in (["check"], ["check", "--format", "json"], ["staleness"],
                 ["report", "staleness", "--out", str(tmp_path / "reports")],
                 ["ingest", str(fleet), "--quiet"]):
        result = _run(*args, "--store", str(store))
        assert result.exit_code == 2, (args, result.output)
        _no_traceback(result)
        assert result.stdout == "", (args, result.stdout)
        assert result.stderr.startswith("error: "), (args, result.stderr)
        assert said in result.stderr and why in result.stderr, (args, result.stderr)
    assert len(list((store / "snapshots").iterdir())) == 2  # ingest wrote nothing
    assert not (tmp_path / "reports").exists()
    verify = _run("store", "verify", "--store", str(store))
    assert verify.exit_code == 2
    _no_traceback(verify)
    assert f"damaged: {said}" in verify.stdout and why in verify.stdout
    assert "1 sound snapshot, 1 damaged" in verify.stdout


@pytest.mark.parametrize("kind", list(DAMAGES))
def test_with_damage_allowed_readers_go_on_without_it_and_say_so_in_every_output(
        kind: str, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_DAMAGED_ENV, raising=False)
    sid, why, kept = DAMAGES[kind](store, monkeypatch)
    warning = f"damaged snapshot {sid} left out: "
    check = _run("check", "--store", str(store), "--format", "json", "--allow-damaged",
                 "--fail-on", "never")
    assert check.exit_code == 0, check.output
    _no_traceback(check)
    assert f"warning: {warning}" in check.stderr and why in check.stderr
    summary = json.loads(check.stdout)["assessment"]
    assert any(w.startswith(warning) and why in w for w in summary["warnings"])
    assert summary["images"] == 1
    assert [r["image_name"] for r in json.loads(check.stdout)["images"]] == [
        {"alpine": "docker.io/library/alpine:3.19", "debian": "docker.io/library/debian:12"}[kept]]
    if kept == "debian":  # the second snapshot carried alpine's rows over from the first
        assert any(w.startswith(f"snapshot {_snaps(store)[1].name}: the rows of 1 source it "
                                f"carried over from damaged snapshot {sid} left out")
                   for w in summary["warnings"])
    table = _run("staleness", "--store", str(store), env={ALLOW_DAMAGED_ENV: "1"})
    assert table.exit_code == 0, table.output
    assert f"warning: {warning}" in table.stderr and kept in table.stdout
    js = _run("staleness", "--store", str(store), "--format", "json", "--allow-damaged")
    assert js.exit_code == 0, js.output
    assert any(w.startswith(warning) for w in json.loads(js.stdout)["assessment"]["warnings"])
    assert f"warning: {warning}" in js.stderr
    # The option lasts as long as its command: the next read stops again.
    with pytest.raises(DamagedStoreError):
        read_current(store)
    assert _run("store", "verify", "--store", str(store)).exit_code == 2


def test_ingest_with_damage_allowed_writes_a_snapshot_and_warns(store: Path) -> None:
    first, second = _snaps(store)
    _edit(first, _set("rows", "abc", "scans"))
    result = _run("ingest", str(store.parent / "fleet"), "--store", str(store), "--quiet",
                  "--allow-damaged")
    assert result.exit_code == 0, result.output
    assert f"warning: damaged snapshot {first.name} left out" in result.stderr
    assert len(list((store / "snapshots").iterdir())) == 3
    # alpine.json was carried from the damaged snapshot: it is read again, not carried from it.
    newest = sorted((store / "snapshots").iterdir())[-1]
    assert json.loads((newest / "manifest.json").read_text())["carried"] == [
        c for c in json.loads((second / "manifest.json").read_text())["carried"]
        if c["snapshot_id"] != first.name]


def test_a_sound_store_verifies(pristine: Path) -> None:
    result = _run("store", "verify", "--store", str(pristine / "store"))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("2 sound snapshots, 0 damaged")
    missing = _run("store", "verify", "--store", str(pristine / "nope"))
    assert missing.exit_code == 2 and "no such store folder" in missing.stderr


def test_a_table_with_other_rows_than_its_manifest_is_damaged(store: Path) -> None:
    first, _ = _snaps(store)
    empty = pd.read_parquet(first / "vulnerabilities.parquet").head(0)
    empty.to_parquet(first / "vulnerabilities.parquet", index=False)
    with pytest.raises(DamagedStoreError, match=f"snapshot {first.name}: vulnerabilities.parquet "
                                                "has 0 rows, but its manifest says 1"):
        read_current(store)
    (first / "images.parquet").write_bytes(b"PAR1 not parquet")
    verify = _run("store", "verify", "--store", str(store))
    assert verify.exit_code == 2
    assert f"damaged: snapshot {first.name}: " in verify.stdout
    assert "not a readable Parquet file" in verify.stdout or "has 0 rows" in verify.stdout


def test_links_and_odd_folders_are_damage_not_data(store: Path, tmp_path: Path) -> None:
    first, second = _snaps(store)
    outside = tmp_path / "outside"
    shutil.move(first, outside)
    first.symlink_to(outside)
    scan = scan_store(store)
    assert [str(d) for d in scan.damaged] == [
        f"snapshot {first.name}: is a symbolic link, not a folder of the store"]
    first.unlink()
    shutil.move(outside, first)
    (store / "snapshots" / "notes").mkdir()
    (store / "snapshots" / "README.txt").write_text("files that are not snapshots are ignored")
    scan = scan_store(store)
    assert [str(d) for d in scan.damaged] == [
        "snapshot notes: is not a snapshot: its name is not a snapshot id "
        "(YYYYmmddTHHMMSSffffffZ-xxxxxx)"]


def test_a_missing_snapshot_that_others_carry_from_is_named(
        store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = _snaps(store)
    shutil.rmtree(first)
    with pytest.raises(DamagedStoreError, match=f"snapshot {first.name}: is missing, but "
                                                f"snapshot {second.name} carries rows over"):
        read_current(store)
    with pytest.raises(DamagedStoreError, match="is missing"):
        read_snapshot(second)
    monkeypatch.setenv(ALLOW_DAMAGED_ENV, "1")
    assert read_current(store).images["image_id"].tolist() == [DEBIAN["Metadata"]["ImageID"]]
    assert len(read_snapshot(second).images) == 1
    assert scan_store(store).warnings()[1] == (
        f"snapshot {second.name}: the rows of 1 source it carried over from damaged snapshot "
        f"{first.name} left out")


def test_as_of_a_damaged_snapshot_says_so(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, _ = _snaps(store)
    (first / "manifest.json").write_text("{")
    monkeypatch.setenv(ALLOW_DAMAGED_ENV, "1")
    with pytest.raises(StoreError, match=f"snapshot {first.name} is damaged: manifest.json is "
                                         "not valid JSON"):
        read_current(store, as_of=first.name)


def test_the_store_folder_itself_unreadable_is_an_error(store: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _unreadable(store / "snapshots", monkeypatch)
    monkeypatch.setenv(ALLOW_DAMAGED_ENV, "1")  # not a damaged snapshot: nothing to go on with
    with pytest.raises(StoreError, match="cannot read the store's snapshots"):
        list_snapshots(store)
    result = _run("check", "--store", str(store))
    assert result.exit_code == 2 and "cannot read the store's snapshots" in result.stderr
    _no_traceback(result)


def test_run_stops_on_a_damaged_store_and_with_damage_allowed_says_so_in_its_files(
        store: Path, tmp_path: Path) -> None:
    first, _ = _snaps(store)
    _edit(first, _set("removed", 5))
    args = ["run", "--store", str(store), "--engine", f"unix://{tmp_path}/no-such.sock",
            "--no-scan", "--out", str(tmp_path / "out"), "--reports", "none", "--quiet",
            "--fail-on", "never"]
    stopped = _run(*args)
    assert stopped.exit_code == 2, stopped.output
    _no_traceback(stopped)
    assert f"snapshot {first.name}: manifest.json: Expected `array | null`" in stopped.stderr
    went_on = _run(*args, "--allow-damaged")
    assert went_on.exit_code == 0, went_on.output
    assert f"warning: damaged snapshot {first.name} left out" in went_on.stderr
    (run,) = (tmp_path / "out").glob("run-*")
    warnings = json.loads((run / "assessment.json").read_text())["warnings"]
    assert warnings[0].startswith(f"damaged snapshot {first.name} left out: manifest.json")


@pytest.mark.slow  # a notebook executed with papermill
def test_a_report_with_damage_allowed_says_so_in_its_header_and_summary(
        store: Path, tmp_path: Path) -> None:
    first, _ = _snaps(store)
    (first / "manifest.json").write_text("{")
    out = tmp_path / "reports"
    result = _run("report", "staleness", "--store", str(store), "--out", str(out), "--quiet",
                  "--allow-damaged")
    assert result.exit_code == 0, result.output
    line = f"damaged snapshot {first.name} left out: manifest.json is not valid JSON (cut short)"
    assert f"warning: {line}" in result.stderr
    (run,) = out.glob("run-*")
    page = (run / "staleness.html").read_text()
    header = page[page.index('<header class="auditlib-header">'):page.index("</header>")]
    assert "DAMAGED STORE" in header and f"<li>{line}</li>" in header
    summary = json.loads((run / "staleness.json").read_text())
    assert summary["status"] == "ok"
    assert line in summary["warnings"] and line in summary["facts"]["warnings"]
    assert line in summary["results"]["assessment"]["warnings"]


def test_collect_and_scan_stop_on_a_damaged_store(store: Path, tmp_path: Path) -> None:
    first, _ = _snaps(store)
    (first / "vulnerabilities.parquet").unlink()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM alpine:3.19\n")
    for args in (["collect", "--engine", f"unix://{tmp_path}/no-such.sock"],
                 ["scan", "--dockerfile", str(dockerfile), "--tools", "hadolint"]):
        result = _run(*args, "--store", str(store), "--quiet")
        assert result.exit_code == 2, (args, result.output)
        _no_traceback(result)
        assert f"snapshot {first.name}: vulnerabilities.parquet is missing" in result.stderr
    assert len(list((store / "snapshots").iterdir())) == 2

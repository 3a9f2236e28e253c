"""The EOL table: bundled data, lookups by scanner OS name, kinds of end, updates, precedence."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditlib.cli.eol import eol
from auditlib.eol.table import (
    EolDataError,
    EolTable,
    cache_path,
    default_table,
    load_table,
    lookup,
)
from auditlib.eol.update import update_table

D = dt.date


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the cache at a tmp folder and clear AUDITLIB_EOL_FILE: never touch the real home."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("AUDITLIB_EOL_FILE", raising=False)
    return tmp_path / "cache" / "auditlib" / "eol.json"


@pytest.fixture(scope="module")
def table() -> EolTable:
    return EolTable.bundled()


def _cycle(cycle: str, eol: Any, **more: Any) -> dict[str, Any]:
    return {"cycle": cycle, "releaseDate": "2020-01-01", "eol": eol, **more}


def _write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc))
    return path


# --- the bundled table ---------------------------------------------------------------------------

def test_bundled_table_is_dated_and_has_the_required_products(table: EolTable) -> None:
    assert table.generated_at == D(2026, 11, 29)
    assert table.source == "https://endoflife.date"
    assert table.origin == "bundled"
    for product, cycles in {
        "alpine": {"3.10", "3.18", "3.22", "3.23"},
        "debian": {"8", "9", "10", "11", "12", "13"},
        "ubuntu": {"14.04", "16.04", "18.04", "20.04", "22.04", "24.04", "25.04", "25.10"},
        "rhel": {"7", "8", "9", "10"},
        "centos": {"6", "7", "8"},
        "centos-stream": {"8", "9"},
        "amazon-linux": {"2018.03", "2", "2023"},
    }.items():
        assert cycles <= {c["cycle"] for c in table.cycles(product)}, product


def test_bundled_table_round_trips_through_its_own_writer(table: EolTable) -> None:
    again = EolTable.from_text(table.to_text(), "again")
    assert again.products == table.products and again.generated_at == table.generated_at


@pytest.mark.parametrize(("product", "cycle", "eol", "extended"), [
    ("debian", "12", "2026-06-10", "2028-06-10"),
    ("debian", "11", "2024-08-14", "2026-08-31"),
    ("ubuntu", "24.04", "2029-05-31", "2036-05-31"),
    ("ubuntu", "20.04", "2025-05-31", "2030-04-02"),
    ("alpine", "3.21", "2026-11-01", None),
    ("rhel", "8", "2029-05-31", "2033-05-31"),
    ("centos", "7", "2024-06-30", None),
    ("amazon-linux", "2", "2026-06-30", None),
])
def test_bundled_dates_match_endoflife_date(table: EolTable, product: str, cycle: str, eol: str,
                                            extended: str | None) -> None:
    (row,) = [c for c in table.cycles(product) if c["cycle"] == cycle]
    assert row["eol"] == eol and row.get("extendedSupport") == extended


# --- lookups -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("family", "version", "product", "cycle"), [
    ("debian", "12.5", "debian", "12"),
    ("debian", "bookworm", "debian", "12"),
    ("debian", "10", "debian", "10"),
    ("debian", "Trixie", "debian", "13"),
    ("alpine", "3.18.4", "alpine", "3.18"),
    ("alpine", "3.10.9", "alpine", "3.10"),
    ("alpine", "3.20_alpha20240329", "alpine", "3.20"),
    ("ubuntu", "22.04", "ubuntu", "22.04"),
    ("ubuntu", "22.04.3", "ubuntu", "22.04"),
    ("ubuntu", "jammy", "ubuntu", "22.04"),
    ("ubuntu", "24.04 LTS (Noble Numbat)", "ubuntu", "24.04"),
    ("redhat", "9.3", "rhel", "9"),
    ("rhel", "8.10", "rhel", "8"),
    ("centos", "7.9.2009", "centos", "7"),
    ("centos", "8.5.2111", "centos", "8"),
    ("centos", "9", "centos-stream", "9"),
    ("amazon", "2 (Karoo)", "amazon-linux", "2"),
    ("amzn", "2", "amazon-linux", "2"),
    ("amazonlinux", "2023", "amazon-linux", "2023"),
    ("amzn", "2023.5.20240624.0", "amazon-linux", "2023"),
    ("amazon", "AMI release 2018.03", "amazon-linux", "2018.03"),
    ("rocky", "9.3", "rocky-linux", "9"),
    ("rockylinux", "8.9", "rocky-linux", "8"),
    ("almalinux", "9.4", "almalinux", "9"),
    ("ol", "8.9", "oracle-linux", "8"),
    ("oracle", "9", "oracle-linux", "9"),
    ("opensuse-leap", "15.5", "opensuse", "15.5"),
    ("opensuse.leap", "15.6", "opensuse", "15.6"),
    ("sles", "15.5", "sles", "15.5"),
    ("sles", "15-SP4", "sles", "15.4"),
    ("fedora", "39", "fedora", "39"),
    ("Debian", " 12 ", "debian", "12"),
])
def test_lookup_maps_scanner_names_and_versions(table: EolTable, family: str, version: str,
                                                product: str, cycle: str) -> None:
    info = table.lookup(family, version)
    assert info is not None
    assert (info.product, info.cycle) == (product, cycle)
    assert info.table_date == D(2026, 11, 29)
    assert info.source == f"endoflife.date {product}, table of 2026-11-29"


@pytest.mark.parametrize(("family", "version"), [
    ("wolfi", "20230201"), ("chainguard", "20230214"), ("alpine", "edge"),
    ("debian", "trixie/sid"), ("debian", "sid"), ("opensuse-tumbleweed", "20240101"),
    ("photon", "5.0"),  # not in the bundled table (endoflife.date has no Photon OS page)
    ("windows", "10"), ("plan9", "4"), (None, "12"), ("debian", None), ("debian", ""),
    ("debian", "99"), ("ubuntu", "noversion"), ("alpine", "2.1"),
])
def test_lookup_gives_none_for_rolling_unknown_or_missing(table: EolTable, family: str | None,
                                                          version: str | None) -> None:
    assert table.lookup(family, version) is None


def test_lookup_ignores_non_text_versions(table: EolTable) -> None:
    assert table.lookup("debian", float("nan")) is None  # type: ignore[arg-type]


def test_debian_security_versus_lts(table: EolTable) -> None:
    std = table.lookup("debian", "12.5")
    lts = table.lookup("debian", "12.5", kind="extended")
    assert std is not None and lts is not None
    assert (std.eol_date, std.kind) == (D(2026, 6, 10), "security")
    assert (lts.eol_date, lts.kind) == (D(2028, 6, 10), "lts")


def test_ubuntu_standard_versus_esm_and_interim_fallback(table: EolTable) -> None:
    std = table.lookup("ubuntu", "22.04")
    esm = table.lookup("ubuntu", "22.04", kind="extended")
    interim = table.lookup("ubuntu", "25.10", kind="extended")
    assert std is not None and esm is not None and interim is not None
    assert (std.eol_date, std.kind) == (D(2027, 4, 1), "standard")
    assert (esm.eol_date, esm.kind) == (D(2032, 4, 9), "esm")
    assert (interim.eol_date, interim.kind) == (D(2026, 7, 1), "standard")  # no ESM: falls back


def test_rhel_extended_is_els_and_alpine_has_none(table: EolTable) -> None:
    els = table.lookup("redhat", "9.3", kind="extended")
    alpine = table.lookup("alpine", "3.18.4", kind="extended")
    assert els is not None and (els.eol_date, els.kind) == (D(2036, 5, 31), "lts")
    assert alpine is not None and (alpine.eol_date, alpine.kind) == (D(2025, 5, 9), "standard")


def test_unknown_kind_is_an_error(table: EolTable) -> None:
    with pytest.raises(ValueError, match="kind"):
        table.lookup("debian", "12", kind="lts")  # type: ignore[arg-type]


def test_is_eol_and_days_to_eol_at_a_given_day(table: EolTable) -> None:
    info = table.lookup("debian", "bookworm")
    assert info is not None
    assert not info.is_eol(D(2026, 6, 9)) and info.days_to_eol(D(2026, 6, 9)) == 1
    assert info.is_eol(D(2026, 6, 10)) and info.days_to_eol(D(2026, 6, 10)) == 0
    assert info.is_eol(D(2026, 11, 29)) and info.days_to_eol(D(2026, 11, 29)) == -172
    late = dt.datetime(2026, 6, 9, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2)))
    assert info.is_eol(late)  # 2026-06-10 01:30 in UTC


def test_boolean_eol_values(tmp_path: Path) -> None:
    doc = {"generated_at": "2026-01-01", "source": "https://endoflife.date", "products": {
        "debian": [_cycle("14", False, codename="Forky"), _cycle("5", True),
                   _cycle("13", "2028-08-09", extendedSupport=True)],
    }}
    t = EolTable.from_file(_write(tmp_path / "t.json", doc))
    forky, lenny = t.lookup("debian", "forky"), t.lookup("debian", "5.0.10")
    ongoing = t.lookup("debian", "13", kind="extended")
    assert forky is not None and lenny is not None and ongoing is not None
    assert forky.eol_date is None and forky.days_to_eol() is None
    assert not forky.is_eol(D(2030, 1, 1))
    assert lenny.eol_date is None and lenny.is_eol(D(2000, 1, 1))
    assert ongoing.kind == "lts" and ongoing.eol_date is None and not ongoing.is_eol()


def test_table_age_days(tmp_path: Path) -> None:
    t = EolTable.bundled()
    assert t.table_age_days(D(2026, 12, 9)) == 10
    assert t.describe(D(2026, 12, 9)) == "2026-11-29 from endoflife.date (bundled, 10 days old)"
    assert t.table_age_days(dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)) == 0
    src = _write(tmp_path / "debian.json", [_cycle("12", "2026-06-10")])
    update_table(src, today=D(2027, 1, 10))
    cached = EolTable.load()
    assert cached.table_age_days(D(2027, 1, 20)) == 10
    assert cached.table_age_days(D(2027, 1, 20), product="alpine") == 52  # kept from 2026-11-29


# --- update --------------------------------------------------------------------------------------

def test_update_from_a_product_file_named_by_its_stem(tmp_path: Path,
                                                      _isolated_cache: Path) -> None:
    src = _write(tmp_path / "debian.json", [
        _cycle("14", False, codename="Forky"),
        _cycle("13", "2028-08-09", extendedSupport="2030-06-30", codename="Trixie"),
    ])
    result = update_table(src, today=D(2026, 12, 5))
    assert result.path == _isolated_cache == cache_path()
    assert result.generated_at == D(2026, 12, 5) and result.previous_date == D(2026, 11, 29)
    (change,) = result.changes
    assert change.product == "debian" and change.status == "replaced" and change.added == ("14",)
    assert "12" in change.removed and change.changed == ("13",)
    t = EolTable.load()
    assert t.origin == "cache" and [c["cycle"] for c in t.cycles("debian")] == ["14", "13"]
    assert t.cycles("alpine") == EolTable.bundled().cycles("alpine")  # other products kept
    info = t.lookup("debian", "trixie")
    assert info is not None and info.source == "endoflife.date debian, table of 2026-12-05"


def test_update_product_option_and_aliases(tmp_path: Path) -> None:
    src = _write(tmp_path / "download (1).json", [_cycle("3.23", "2027-11-01")])
    with pytest.raises(EolDataError, match="give --product"):
        update_table(src)
    result = update_table(src, product="alpine-linux", today=D(2026, 12, 1))
    assert [c.product for c in result.changes] == ["alpine"]
    assert [c["cycle"] for c in EolTable.load().cycles("alpine")] == ["3.23"]


def test_update_from_a_whole_table_keeps_its_date(tmp_path: Path) -> None:
    doc = {"generated_at": "2026-12-20", "source": "https://endoflife.date", "products": {
        "ubuntu": [_cycle("26.04", "2031-04-30", extendedSupport="2036-04-30", lts=True)],
        "nodejs": [_cycle("24", "2028-04-30")],
    }}
    result = update_table(_write(tmp_path / "table.json", doc), today=D(2027, 3, 1))
    assert result.generated_at == D(2026, 12, 20)
    assert {c.product: c.status for c in result.changes} == {"ubuntu": "replaced", "nodejs": "new"}
    assert EolTable.load().generated_at == D(2026, 12, 20)


def test_update_from_a_folder_and_unchanged_products(tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    _write(folder / "centos.json", EolTable.bundled().cycles("centos"))
    _write(folder / "redhat.json", [_cycle("10", "2035-05-31"), _cycle("9", "2032-05-31")])
    (folder / "notes.txt").write_text("not json, not read")
    result = update_table(folder, today=D(2026, 12, 2))
    assert {c.product: c.status for c in result.changes} == {"centos": "unchanged",
                                                              "rhel": "replaced"}
    assert len(result.files) == 2
    assert [c["cycle"] for c in EolTable.load().cycles("rhel")] == ["10", "9"]


def test_update_accepts_the_v1_api_shape(tmp_path: Path) -> None:
    doc = {"schema_version": "1.0.0", "result": {"name": "debian", "releases": [
        {"name": "13", "codename": "Trixie", "releaseDate": "2025-08-09", "isLts": False,
         "eolFrom": "2028-08-09", "isEol": False, "eoesFrom": "2030-06-30",
         "latest": {"name": "13.2"}},
        {"name": "7", "releaseDate": "2013-05-04", "eolFrom": None, "isEol": True},
    ]}}
    update_table(_write(tmp_path / "v1.json", doc), today=D(2026, 12, 1))
    t = EolTable.load()
    lts = t.lookup("debian", "13", kind="extended")
    assert lts is not None and lts.eol_date == D(2030, 6, 30)
    old = t.lookup("debian", "7")
    assert old is not None and old.eol_date is None and old.is_eol()


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON"),
    ([{"releaseDate": "2020-01-01", "eol": "2024-01-01"}], r"\[0\]: no `cycle`"),
    ([_cycle("12", "2026-06-10"), _cycle("11", "soon")], r"\[1\] \(cycle '11'\): `eol` is 'soon'"),
    ([_cycle("12", "2026-13-40")], r"\[0\] \(cycle '12'\): `eol` is '2026-13-40'"),
    ([_cycle("12", None)], r"`eol` is null"),
    ([{"cycle": "12"}], "no `eol`"),
    ([_cycle("12", "2026-06-10", extendedSupport=3)], "`extendedSupport` is 3"),
    ([_cycle("12", "2026-06-10"), _cycle("12", "2026-06-10")], "appears twice"),
    (["12"], "must be an object"),
    ([], "no release cycles"),
    ({"hello": 1}, "neither an endoflife.date product file"),
])
def test_bad_product_files_name_file_and_entry_and_write_nothing(
        tmp_path: Path, _isolated_cache: Path, content: object, message: str) -> None:
    src = tmp_path / "debian.json"
    src.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(EolDataError, match=message) as err:
        update_table(src)
    assert str(err.value).startswith(f"{src}")
    assert not _isolated_cache.exists()


def test_a_bad_file_in_a_folder_leaves_the_existing_table_untouched(tmp_path: Path,
                                                                    _isolated_cache: Path) -> None:
    update_table(_write(tmp_path / "alpine.json", [_cycle("3.23", "2027-11-01")]),
                 today=D(2026, 12, 1))
    before = _isolated_cache.read_bytes()
    folder = tmp_path / "in"
    folder.mkdir()
    _write(folder / "debian.json", [_cycle("13", "2028-08-09")])
    _write(folder / "ubuntu.json", [_cycle("26.04", "2031-04-31")])
    with pytest.raises(EolDataError, match=r"ubuntu.json\[0\] \(cycle '26.04'\): `eol`"):
        update_table(folder)
    assert _isolated_cache.read_bytes() == before
    assert [p.name for p in _isolated_cache.parent.iterdir()] == ["eol.json"]  # no temp files


def test_a_bad_whole_table_names_the_product_entry(tmp_path: Path) -> None:
    doc = {"generated_at": "2026-12-01", "products": {"rhel": [_cycle("9", "2032-05-31"),
                                                              {"eol": "2035-05-31"}]}}
    with pytest.raises(EolDataError, match=r"t.json: products.rhel\[1\]: no `cycle`"):
        update_table(_write(tmp_path / "t.json", doc))
    with pytest.raises(EolDataError, match="generated_at"):
        update_table(_write(tmp_path / "u.json", {"products": {}}))


def test_the_same_product_twice_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _write(folder / "alpine.json", [_cycle("3.23", "2027-11-01")])
    _write(folder / "alpine-linux.json", [_cycle("3.23", "2027-11-01")])
    with pytest.raises(EolDataError, match="also given in"):
        update_table(folder)


def test_update_to_another_path(tmp_path: Path, _isolated_cache: Path) -> None:
    target = tmp_path / "elsewhere" / "eol.json"
    update_table(_write(tmp_path / "fedora.json", [_cycle("45", False)]), to=target,
                 today=D(2026, 12, 1))
    assert target.is_file() and not _isolated_cache.exists()
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # a new file: the umask's mode
    assert EolTable.load(target).cycles("fedora") == [_cycle("45", False)]


# --- which table is read -------------------------------------------------------------------------

def test_precedence_path_then_env_then_cache_then_bundled(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert EolTable.load().origin == "bundled"
    update_table(_write(tmp_path / "debian.json", [_cycle("12", "2026-06-10")]),
                 today=D(2026, 12, 3))
    assert EolTable.load().origin == "cache" and load_table().origin == "cache"
    assert default_table().generated_at == D(2026, 12, 3)
    assert lookup("debian", "12") is not None and lookup("debian", "11") is None  # from the cache
    env_file = tmp_path / "env.json"
    update_table(_write(tmp_path / "ubuntu.json", [_cycle("24.04", "2029-05-31")]), to=env_file,
                 today=D(2026, 12, 4))
    monkeypatch.setenv("AUDITLIB_EOL_FILE", str(env_file))
    assert EolTable.load().origin == "AUDITLIB_EOL_FILE"
    assert default_table().generated_at == D(2026, 12, 4)
    bundled = tmp_path / "explicit.json"
    bundled.write_text(EolTable.bundled().to_text())
    explicit = EolTable.load(bundled)
    assert explicit.origin == "path" and explicit.generated_at == D(2026, 11, 29)
    monkeypatch.setenv("AUDITLIB_EOL_FILE", str(tmp_path / "missing.json"))
    with pytest.raises(EolDataError, match="AUDITLIB_EOL_FILE=.*no such file"):
        EolTable.load()


# --- command line --------------------------------------------------------------------------------

def test_cli_update_prints_changes_and_show_reads_the_cache(tmp_path: Path) -> None:
    src = _write(tmp_path / "debian.json", [_cycle("13", "2028-08-09", codename="Trixie")])
    runner = CliRunner()
    result = runner.invoke(eol, ["update", "--from", str(src)])
    assert result.exit_code == 0, result.output
    assert f"wrote {cache_path()}: table of " in result.stdout
    assert "debian: replaced, 1 cycles (removed 12, 11, 10" in result.stdout
    shown = runner.invoke(eol, ["show", "--product", "debian"])
    assert shown.exit_code == 0, shown.output
    assert f"loaded from: cache ({cache_path()})" in shown.stdout
    assert "13     Trixie    2020-01-01  2028-08-09" in shown.stdout


def test_cli_show_bundled_products_and_by_scanner_family() -> None:
    runner = CliRunner()
    shown = runner.invoke(eol, ["show"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith("EOL table of 2026-11-29 (")
    assert "loaded from: bundled (" in shown.stdout and "  rhel: 6 cycles" in shown.stdout
    rhel = runner.invoke(eol, ["show", "--product", "redhat"])
    assert rhel.exit_code == 0 and "rhel (data of 2026-11-29):" in rhel.stdout
    assert "9      -         2022-05-18  2032-05-31  2027-05-31  2036-05-31" in rhel.stdout


@pytest.mark.parametrize("args", [
    ["show", "--product", "beos"],
    ["update", "--from", "missing.json"],
    ["update", "--from", "BAD"],
])
def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str]) -> None:
    bad = _write(tmp_path / "debian.json", [{"cycle": "12", "eol": "tomorrow"}])
    args = [str(bad) if a == "BAD" else str(tmp_path / a) if a.endswith(".json") else a
            for a in args]
    result = CliRunner().invoke(eol, args)
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")
    assert not cache_path().exists()

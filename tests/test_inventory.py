"""The inventory file (`--sources FILE`): a fleet in one YAML file, read into a `CollectRequest`;
a bad file is one error naming the file and the place, and never shows a credential."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditlib.errors import ParameterError
from auditlib.ingest.inventory import read_inventory
from auditlib.sources.engine_endpoint import EngineEndpoint

INVENTORY = """\
deadline: 120
workers: 4
engines:
  - unix:///var/run/docker.sock
  - url: tcp://build1.example:2376
    tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem}
    deadline: 30
  - url: tcp://build2.example:2376
    cert_path: other
contexts: [prod]
all_contexts: true
registries:
  - 127.0.0.1:5000/team/app
  - repo: ghcr.io/org/api
    deadline: 45
registry_credentials:
  ghcr.io: {username: bot, password: Sup3r-Secret-Pw}
archives: [images/app.tar]
dockerfiles: [app/Dockerfile=ghcr.io/org/app:1.2]
"""


def test_an_inventory_names_the_whole_fleet(tmp_path: Path) -> None:
    f = tmp_path / "fleet.yaml"
    f.write_text(INVENTORY)
    req = read_inventory(f)
    assert req.deadline == 120 and req.workers == 4
    assert req.engines[0] == "unix:///var/run/docker.sock"
    tls1, tls2 = req.engines[1], req.engines[2]
    assert isinstance(tls1, EngineEndpoint) and tls1.tls is not None
    assert tls1.tls.ca == tmp_path / "certs" / "ca.pem"
    assert isinstance(tls2, EngineEndpoint) and tls2.tls is not None
    assert tls2.tls.key == tmp_path / "other" / "key.pem"
    assert req.contexts == ["prod"] and req.all_contexts
    assert req.registries == ["127.0.0.1:5000/team/app", "ghcr.io/org/api"]
    assert req.archives == [str(tmp_path / "images" / "app.tar")]
    assert req.dockerfiles == [str(tmp_path / "app" / "Dockerfile") + "=ghcr.io/org/app:1.2"]
    assert req.deadlines == {"tcp://build1.example:2376": 30, "ghcr.io/org/api": 45}
    creds = (req.registry_credentials or {})["ghcr.io"]
    assert creds is not None and creds.username == "bot"
    assert "Sup3r" not in repr(creds) and "Sup3r" not in repr(req)


def test_an_empty_inventory_names_nothing(tmp_path: Path) -> None:
    f = tmp_path / "empty.yaml"
    f.write_text("")
    assert not read_inventory(f).names_any()


@pytest.mark.parametrize(("text", "why"), [
    ("engines: [{url: 5}]", r"not an inventory: Expected `str`.*\$\.engines\[0\]\.url"),
    ("engines: [{url: tcp://x:2376, colour: red}]", r"not an inventory: .*colour"),
    ("registries: {a: b}", r"not an inventory: Expected `array`.*\$\.registries"),
    ("deadline: -1", r"deadline must be positive"),
    ("engines: [{url: tcp://x:2376, tls: {ca: a.pem}, cert_path: c}]", "not both"),
    ("engines:\n  - url: tcp://x\n   bad: [", r"not YAML at line \d+, column \d+"),
])
def test_a_bad_inventory_is_one_error_naming_the_file(tmp_path: Path, text: str,
                                                      why: str) -> None:
    f = tmp_path / "fleet.yaml"
    f.write_text(text)
    with pytest.raises(ParameterError, match=why) as e:
        read_inventory(f)
    assert str(e.value).startswith(str(f))
    assert "\n" not in str(e.value)


def test_a_bad_inventory_never_shows_the_password_near_the_error(tmp_path: Path) -> None:
    f = tmp_path / "fleet.yaml"
    f.write_text("registry_credentials:\n  ghcr.io: {username: bot, password: Sup3r-Secret-Pw"
                 "\nengines: [ssh://ops:Sup3r-Secret-Pw@h [\n")
    with pytest.raises(ParameterError) as e:
        read_inventory(f)
    assert "Sup3r" not in str(e.value)


def test_a_missing_inventory_is_named(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="nope.yaml: cannot read the inventory"):
        read_inventory(tmp_path / "nope.yaml")

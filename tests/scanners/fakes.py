"""Stand-in scanners: small shell scripts put on PATH that answer the version command and write
(or fail to write) an output, so that every outcome of a scanner run can be made on purpose."""

from __future__ import annotations

import json
from pathlib import Path

FILES = {"etc/os-release": b"ID=debian\nVERSION_ID=12\n", "app/run.sh": b"echo hi\n"}

SYFT_DOC = {
    "artifacts": [],
    "descriptor": {"name": "syft", "version": "1.18.1"},
    "schema": {
        "version": "16.0.18",
        "url": "https://raw.githubusercontent.com/anchore/syft/main/schema/json/schema-16.0.18.json",
    },
    "source": {"type": "image", "name": "x", "metadata": {}},
}
TRIVY_DOC = {"SchemaVersion": 2, "ArtifactName": "x", "ArtifactType": "container_image",
             "Results": []}
GRYPE_DOC = {"matches": [], "descriptor": {"name": "grype", "version": "0.86.1"},
             "source": {"type": "image", "target": {"userInput": "x"}}}
HADOLINT_DOC = [{"code": "DL3007", "column": 1, "file": "Dockerfile", "level": "warning",
                 "line": 1, "message": "Using latest is prone to errors"}]

VERSIONS = {
    "syft": ('[ "$1" = version ]', '{"application": "syft", "version": "1.18.1"}'),
    "trivy": ('[ "$1" = version ]', '{"Version": "0.76.0"}'),
    "grype": ('[ "$1" = version ]', '{"application": "grype", "version": "0.86.1"}'),
    "hadolint": ('[ "$1" = --version ]', "Haskell Dockerfile Linter 2.15.1"),
}
# How each tool is told where to write (hadolint prints its report).
OUTPUT_ARG = {
    "syft": 'for a in "$@"; do case "$a" in syft-json=*) out="${a#syft-json=}";; esac; done',
    "trivy": 'while [ $# -gt 0 ]; do [ "$1" = --output ] && out="$2"; shift; done',
    "grype": 'while [ $# -gt 0 ]; do [ "$1" = --file ] && out="$2"; shift; done',
    "hadolint": "out=/dev/stdout",
}
GOOD = {"syft": SYFT_DOC, "trivy": TRIVY_DOC, "grype": GRYPE_DOC, "hadolint": HADOLINT_DOC}


class Fakes:
    """Writes stand-in scanners into a folder that is all of PATH."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.log = folder / "calls.log"

    def add(self, name: str, body: str | None = None, *, version: str | None = None) -> Path:
        """Add tool `name`: it answers its version command (`version` replaces the answer), logs
        every other call, finds its output path, then runs `body` (default: write a good report
        and exit 0)."""
        test, answer = VERSIONS[name]
        if body is None:
            body = f"/bin/cat > \"$out\" <<'EOF'\n{json.dumps(GOOD[name])}\nEOF\n"
        script = (
            "#!/bin/sh\n"
            f"if {test}; then echo '{version or answer}'; exit 0; fi\n"
            f'echo "{name} $*" >> "{self.log}"\n'
            f"{OUTPUT_ARG[name]}\n"
            f"{body}"
        )
        path = self.folder / name
        path.write_text(script)
        path.chmod(0o755)
        return path

    def calls(self, name: str | None = None) -> list[str]:
        """Return the scan calls made (not the version calls), of one tool or all."""
        if not self.log.exists():
            return []
        lines = self.log.read_text().splitlines()
        return [line for line in lines if name is None or line.startswith(name + " ")]

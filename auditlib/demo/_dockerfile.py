"""The Dockerfiles of the demo's apps, and what hadolint says of them.

A Dockerfile builds its app's newest build: FROM the build's base in the mirror (by tag, by tag
and digest, or `latest`, as its app's role asks; `_world`), installing its OS packages, copying
the app (from a builder stage for the `rebuilt` app), as its user, with its command. Each line
is written with the hadolint findings it draws (`hadolint -f json`, hadolint 2.15: the same
codes, levels and messages), so the hadolint document of a Dockerfile is what hadolint writes
for it; tests/test_demo_history.py checks that against hadolint when it is installed.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from auditlib.demo._bases import MIRROR, BaseBuild, base_repo, base_tag
from auditlib.demo._image import RUNTIME_CMD
from auditlib.demo._plan import ImagePlan

HADOLINT: dict[str, tuple[str, str]] = {
    "DL3002": ("warning", "Last USER should not be root"),
    "DL3007": ("warning", "Using latest is prone to errors if the image will ever update. Pin "
               "the version explicitly to a release tag"),
    "DL3008": ("warning", "Pin versions in apt get install. Instead of `apt-get install "
               "<package>` use `apt-get install <package>=<version>`"),
    "DL3009": ("info", "Delete the apt lists (/var/lib/apt/lists) after installing something"),
    "DL3015": ("info", "Avoid additional packages by specifying `--no-install-recommends`"),
    "DL3018": ("warning", "Pin versions in apk add. Instead of `apk add <package>` use `apk add "
               "<package>=<version>`"),
    "DL3019": ("info", "Use the `--no-cache` switch to avoid the need to use `--update` and "
               "remove `/var/cache/apk/*` when done installing packages"),
    "DL3064": ("warning", "Potentially sensitive data should not be used in the `ARG` or `ENV` "
               "commands"),
    "DL3066": ("info", "Non-numeric user-id may not be resolvable by host system"),
}
"""hadolint's level and message of each rule the demo's Dockerfiles break."""

_BUILDER: dict[str, tuple[str, list[str], list[str]]] = {
    # runtime: (builder image, builder steps, what the final stage copies from it)
    "java": ("maven:3.9-eclipse-temurin-17",
             ["COPY pom.xml .", "COPY src ./src", "RUN mvn -q package -DskipTests"],
             ["COPY --from=build /src/target/app.jar /app/app.jar"]),
    "node": ("node:20-bookworm",
             ["COPY package.json package-lock.json ./", "RUN npm ci --omit=dev", "COPY . ."],
             ["COPY --from=build /src /app"]),
    "python": ("python:3.11-bookworm",
               ["COPY requirements.txt .",
                "RUN pip install --no-cache-dir --prefix=/install -r requirements.txt"],
               ["COPY --from=build /install /usr/local", "COPY . /app"]),
    "go": ("golang:1.22-bookworm",
           ["COPY go.mod go.sum ./", "RUN go mod download", "COPY . .",
            "RUN CGO_ENABLED=0 go build -o /out/server ./cmd/server"],
           ["COPY --from=build /out/server /app/server"]),
}
_CONFIG_COPIES: dict[str, list[str]] = {
    # role: configuration its final stage bakes in (config-outside-image). The `drifting` app's
    # container mounts /etc/app/conf.d over the first file (`_world`), not over the second.
    "drifting": ["COPY conf.d/app.conf /etc/app/conf.d/app.conf",
                 "COPY settings.yaml /etc/app/settings.yaml"],
    "unkept": ["COPY .env.production /app/.env"],
}
SECRET_ARG = "GIT_TOKEN"
"""The build argument the `drifting` app's Dockerfile declares (a name that looks secret)."""


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """A Dockerfile and its hadolint findings."""

    text: str
    findings: list[tuple[int, str]]
    """(line, hadolint code), in line order."""

    def hadolint_bytes(self, file: str) -> bytes:
        """Return `hadolint -f json FILE` of this Dockerfile, as hadolint writes it."""
        doc = [{"code": code, "column": 1, "file": file, "level": HADOLINT[code][0],
                "line": line, "message": HADOLINT[code][1]} for line, code in self.findings]
        return orjson.dumps(doc) + b"\n"


def _install(plan: ImagePlan, role: str | None) -> tuple[str, list[str]]:
    """Return the RUN that installs the OS packages, and its findings."""
    if plan.base.family == "alpine":
        if role == "drifting":
            return "RUN apk add ca-certificates curl", ["DL3018", "DL3019"]
        if role == "rebuilt":
            return "RUN apk upgrade --no-cache && apk add --no-cache ca-certificates curl", \
                ["DL3018"]
        return "RUN apk add --no-cache ca-certificates curl", ["DL3018"]
    if role == "rebuilt":
        return ("RUN apt-get update && apt-get upgrade -y && apt-get install -y "
                "--no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*",
                ["DL3008"])
    return ("RUN apt-get update && apt-get install -y ca-certificates curl",
            ["DL3008", "DL3009", "DL3015"])


def _from(plan: ImagePlan, base: BaseBuild, role: str | None) -> tuple[str, list[str]]:
    if role == "drifting":
        return f"FROM {base_repo(plan.base)}:latest", ["DL3007"]
    if role in ("rebuilt", "unkept"):
        return f"FROM {base.ref}@{base.digest}", []
    return f"FROM {base_repo(plan.base)}:{base_tag(plan.base)}", []


def dockerfile(plan: ImagePlan, base: BaseBuild, role: str | None) -> Dockerfile:
    """Return the Dockerfile that builds `plan` on `base`, as the app's role asks (None: an
    app with no role: FROM the base's release tag, one stage)."""
    lines: list[tuple[str, list[str]]] = [
        ("# SYNTHETIC: written by auditlib's demo fleet generator; it builds nothing real.", [])]
    builder = _BUILDER.get(plan.runtime) if role == "rebuilt" else None
    if builder is not None:
        image, steps, _ = builder
        lines += [(f"FROM {MIRROR}/{image} AS build", []), ("WORKDIR /src", [])]
        lines += [(s, []) for s in steps] + [("", [])]
    lines.append(_from(plan, base, role))
    if role == "drifting":
        lines.append((f"ARG {SECRET_ARG}", ["DL3064"]))
    lines += [_install(plan, role), ("WORKDIR /app", [])]
    lines += [(s, []) for s in builder[2]] if builder is not None else [("COPY . /app", [])]
    lines += [(s, []) for s in _CONFIG_COPIES.get(role or "", [])]
    if plan.user:
        user = plan.user
        codes = [] if user.replace(":", "").isdigit() else ["DL3066"]
        lines.append((f"USER {user}", (["DL3002"] if user == "root" else []) + codes))
    if role == "rebuilt":
        lines.append(('HEALTHCHECK CMD ["curl", "-fsS", "http://localhost:8080/health"]', []))
    cmd = ", ".join(f'"{part}"' for part in RUNTIME_CMD[plan.runtime])
    lines.append((f"CMD [{cmd}]", []))
    text = "".join(f"{line}\n" for line, _ in lines)
    findings = [(n, code) for n, (_, codes) in enumerate(lines, start=1) for code in codes]
    return Dockerfile(text, findings)

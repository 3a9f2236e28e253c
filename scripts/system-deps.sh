#!/usr/bin/env bash
# Install the real parts the integration tests start themselves (design.md section 9):
# Debian's Docker Engine, registry, busybox-static, debootstrap and htpasswd, Chromium (the
# report browser tests), rpm (its version order checks auditlib.versions.rpm), and Java 17 (the
# Spark cluster the query-engine test starts).
# Runs only where it can (root with apt-get); elsewhere it says so in one line and the tests that
# need these parts skip with their own one-line reason (under CI=true they fail instead).
set -uo pipefail

PACKAGES=(docker.io docker-registry busybox-static debootstrap apache2-utils chromium rpm openjdk-17-jre-headless)
COMMANDS=(dockerd docker-registry busybox debootstrap htpasswd chromium rpm java)

missing=()
for i in "${!PACKAGES[@]}"; do
    command -v "${COMMANDS[$i]}" >/dev/null 2>&1 || missing+=("${PACKAGES[$i]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: not root with apt-get, so not installing ${missing[*]}; the integration tests that need them will skip"
    exit 0
fi
echo "system-deps: installing ${missing[*]} (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/auditlib-apt.log 2>&1; then
    apt-get update -q >>/tmp/auditlib-apt.log 2>&1
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/auditlib-apt.log 2>&1 \
        || { echo "system-deps: apt-get install failed; see /tmp/auditlib-apt.log"; tail -5 /tmp/auditlib-apt.log; }
fi
# Debian's package starts the registry as a service on :5000 where it can; the tests start their
# own on 127.0.0.1, so stop it if it came up.
command -v service >/dev/null 2>&1 && service docker-registry stop >/dev/null 2>&1 || true
exit 0

#!/usr/bin/env bash
# Install the Debian packages ogshot needs: browsers and driver, Redis, fonts, Python venv.
# Used by scripts/setup (and so by .ci/run); Dockerfile.worker is to use it too, so CI runs
# the same install steps as the image. Installs only what is missing; needs root or sudo.
#   --no-chromium   skip chromium and chromium-driver (Firefox alone is enough to run)
#   --no-firefox    skip firefox-esr (Chromium alone is enough to run)
#   --dev           also the tools the checks use (docker-compose validates the compose file,
#                   wrk drives the benchmarks in bench/)
#   --image         for the worker image: tini (its PID 1), and no redis-server (Redis runs
#                   in a container of its own)
set -euo pipefail

packages=(
  firefox-esr
  chromium chromium-driver
  redis-server
  # Fonts so real pages render: Latin, CJK, colour emoji, metric-compatible Arial/Times.
  fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji fonts-liberation2 fonts-dejavu-core
  ca-certificates
)
for arg in "$@"; do
  case "$arg" in
    --no-chromium)
      packages=("${packages[@]/chromium-driver/}")
      packages=("${packages[@]/chromium/}")
      ;;
    --no-firefox) packages=("${packages[@]/firefox-esr/}") ;;
    --dev) packages+=(docker-compose wrk) ;;
    --image)
      packages=("${packages[@]/redis-server/}")
      packages+=(tini)
      ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
# A Python without venv/ensurepip (Debian splits it out) needs python3-venv.
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
  packages+=(python3-venv)
fi

missing=()
for pkg in "${packages[@]}"; do
  [ -n "$pkg" ] || continue
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
if ! apt-cache show firefox-esr >/dev/null 2>&1 || ! apt-cache show chromium >/dev/null 2>&1; then
  $sudo apt-get update -q
fi
if ! apt-cache show firefox-esr >/dev/null 2>&1; then
  echo "firefox-esr is not in this system's package archive (Ubuntu ships Firefox as a snap)." >&2
  echo "ogshot needs Debian's firefox-esr and chromium: use Debian 12 or the container images." >&2
  exit 1
fi
echo "installing: ${missing[*]}"
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"


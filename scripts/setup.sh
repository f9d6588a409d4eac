#!/usr/bin/env bash
# One-time, idempotent setup on Debian bookworm (as root): Node packages, the build, a Vulkan
# driver that Dawn accepts, and Chromium for the page's browser test. Bookworm's own Mesa 22
# lavapipe is rejected by Dawn, so mesa-vulkan-drivers comes from bookworm-backports when no
# adapter is found.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

if [ ! -d node_modules/webgpu ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

if ! node scripts/probe-adapter.mjs >/dev/null 2>&1; then
  echo "setup: no WebGPU adapter; installing mesa-vulkan-drivers from bookworm-backports" >&2
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
  if ! node scripts/probe-adapter.mjs >/dev/null 2>&1; then
    echo "setup: still no WebGPU adapter after installing mesa-vulkan-drivers from bookworm-backports; the CPU backend will be used" >&2
    exit 1
  fi
fi
node scripts/probe-adapter.mjs >&2

if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing chromium for npm run test:browser" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

npm run build --silent

#!/usr/bin/env bash
# Makes sure this machine has a WebGPU adapter for dawn.node. On Debian/Ubuntu without one, installs
# Mesa's EGL/GL software stack (llvmpipe) from bookworm-backports: Mesa 25 runs webgrad's GEMM
# 6-10x faster than bookworm's own Mesa 22. Idempotent, and quiet when nothing is needed.
set -euo pipefail

packages=(libegl1 libegl-mesa0 libgl1-mesa-dri)

mesa_version() {
  dpkg-query -W -f='${Version}' libegl-mesa0 2>/dev/null | sed -E 's/^([0-9]+).*/\1/' || true
}

have_stack() {
  local major
  major=$(mesa_version)
  [ -n "$major" ] && [ "$major" -ge 24 ] && dpkg-query -W -f='${Status}' libgl1-mesa-dri 2>/dev/null | grep -q 'install ok installed'
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-gpu: not a Debian/Ubuntu machine; install your GPU's Vulkan/Metal/D3D12 driver or Mesa's EGL+GL (llvmpipe) yourself" >&2
  exit 0
fi

if have_stack; then exit 0; fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ "$codename" = "bookworm" ]; then
  list=/etc/apt/sources.list.d/webgrad-backports.list
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $sudo tee "$list" >/dev/null
  fi
  target=(-t bookworm-backports)
else
  target=()
fi

echo "setup-gpu: installing Mesa EGL/GL (llvmpipe) for WebGPU without a GPU: ${packages[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${target[@]}" "${packages[@]}" >/dev/null
echo "setup-gpu: Mesa $(dpkg-query -W -f='${Version}' libegl-mesa0) installed"

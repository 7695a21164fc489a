#!/usr/bin/env bash
# Prepares .device-carry/ (git-ignored) for bench/device-check.sh on a machine with a GPU but no
# network and perhaps no Node: xz-compressed copies of this machine's node binary and of the
# node_modules the tests and benchmarks load (Dawn's dawn.node for linux-x64 among them, other
# platforms' builds, sources maps and type declarations left out), the MNIST files, the Vulkan crash
# repro from ../shared, and the Vulkan/EGL loader packages (amd64 .debs) a bare image may lack.
#   bash scripts/pack-device.sh [--no-debs]
set -euo pipefail
cd "$(dirname "$0")/.."
carry=.device-carry
mkdir -p "$carry"

if [ "$(uname -m)" != x86_64 ]; then
  echo "pack-device: this machine is $(uname -m); the device machine is x86-64, so its node and dawn.node would not run there" >&2
  exit 2
fi

node_bin=$(command -v node)
if [ ! -f "$carry/node.xz" ] || [ "$node_bin" -nt "$carry/node.xz" ]; then
  echo "pack-device: compressing $node_bin ($(node --version))"
  xz -T0 -6 -c "$node_bin" > "$carry/node.xz.tmp" && mv "$carry/node.xz.tmp" "$carry/node.xz"
fi

echo "pack-device: packing node_modules"
modules=$(readlink -f node_modules)
tar -C "$(dirname "$modules")" -cf - \
  --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' --exclude='node_modules/typescript' \
  --exclude='node_modules/playwright-core' --exclude='node_modules/@types' \
  --exclude='*.map' --exclude='*.d.ts' --exclude='*.min.js.html' --exclude='miniprogram' --exclude='*.tsbuildinfo' \
  "$(basename "$modules")" | xz -T0 -6 > "$carry/node_modules.tar.xz.tmp"
mv "$carry/node_modules.tar.xz.tmp" "$carry/node_modules.tar.xz"

for dataset in mnist; do
  for root in ./data ../shared/data; do
    if [ -f "$root/$dataset/train-images-idx3-ubyte.gz" ]; then
      mkdir -p "$carry/data/$dataset"
      cp "$root/$dataset"/*.gz "$carry/data/$dataset/"
      break
    fi
  done
done

if [ -f ../shared/repro/dawn-vulkan-crash.mjs ]; then
  mkdir -p "$carry/repro"
  cp ../shared/repro/dawn-vulkan-crash.mjs "$carry/repro/"
fi

if [ "${1:-}" != --no-debs ]; then
  # The loaders alone: the NVIDIA driver's own Vulkan ICD and EGL vendor files come with the machine.
  mkdir -p "$carry/debs" /tmp/webgrad-apt-amd64/partial
  apt_amd64=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/webgrad-apt-amd64)
  apt-get "${apt_amd64[@]}" update -qq
  (cd "$carry/debs" && apt-get "${apt_amd64[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi

du -sh "$carry"/* | sed 's/^/pack-device: /'
echo "pack-device: total $(du -sh "$carry" | cut -f1) (the device tool carries at most 64 MiB with the working tree)"

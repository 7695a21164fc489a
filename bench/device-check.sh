#!/usr/bin/env bash
# The device check: webgrad on a machine with a real GPU, in one command that writes one JSON.
# It names the adapter and backend, runs Dawn's Vulkan crash repro on hardware Vulkan, the test
# files that use the GPU, bench/gemm.ts (every variant), bench/conv_implicit.ts (implicit-GEMM convolution
# against the default paths), bench/train-step.ts and bench/time-to-99.ts,
# and writes device-check.json (and device-check.log, every step's output) into $OUT or --out DIR.
#   bash scripts/pack-device.sh                 # here, once: fills the git-ignored .device-carry/
#   bash bench/device-check.sh [--quick] [--out DIR] [--steps adapter,repro,tests,gemm,conv-implicit,train-step,time-to-99]
# On a bare machine it unpacks from .device-carry/ what is missing: node (when `node` is absent),
# node_modules (when they are absent, as a link to a checkout's own does not travel), the Vulkan/EGL loaders (only where nvidia-smi exists and
# no libvulkan is installed) and the MNIST files. --quick uses small settings throughout, so that the
# script itself can be exercised on llvmpipe. A step that fails is recorded and the next one runs.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=0
out="${OUT:-$root/bench/results/device-check}"
steps="adapter,repro,tests,gemm,conv-implicit,train-step,time-to-99"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) [ $# -ge 2 ] || { echo "device-check: --out needs a folder" >&2; exit 2; }; out=$2; shift ;;
    --steps) [ $# -ge 2 ] || { echo "device-check: --steps needs a comma-separated list" >&2; exit 2; }; steps=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "device-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for step in ${steps//,/ }; do
  case ",adapter,repro,tests,gemm,conv-implicit,train-step,time-to-99," in
    *",$step,"*) ;;
    *) echo "device-check: --steps: \"$step\" is not one of adapter, repro, tests, gemm, conv-implicit, train-step, time-to-99" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
carry="$root/.device-carry"
work=$(mktemp -d /tmp/webgrad-device-check.XXXXXX)
log="$out/device-check.log"
: > "$log"
say() { echo "device-check: $*" | tee -a "$log"; }
wants() { case ",$steps," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# --- what a bare machine lacks ---------------------------------------------------------------
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$work/nvidia-smi.txt" 2>&1 || true
  if ! ldconfig -p | grep -q 'libvulkan\.so\.1' && compgen -G "$carry/debs/*.deb" > /dev/null; then
    say "unpacking the Vulkan/EGL loaders from $carry/debs"
    for deb in "$carry"/debs/*.deb; do dpkg -x "$deb" /; done
    ldconfig
  fi
  nvidia_share=/usr/local/nvidia/share
  if [ -f "$nvidia_share/vulkan/icd.d/nvidia_icd.json" ]; then
    export VK_DRIVER_FILES="${VK_DRIVER_FILES:-$nvidia_share/vulkan/icd.d/nvidia_icd.json}"
    export __EGL_VENDOR_LIBRARY_FILENAMES="${__EGL_VENDOR_LIBRARY_FILENAMES:-$nvidia_share/glvnd/egl_vendor.d/10_nvidia.json}"
  fi
fi
if ! command -v node > /dev/null; then
  if [ ! -f "$carry/node.xz" ]; then say "no node here and no $carry/node.xz (run scripts/pack-device.sh where node is)"; exit 1; fi
  mkdir -p "$work/bin"
  xz -dc "$carry/node.xz" > "$work/bin/node" && chmod +x "$work/bin/node"
  export PATH="$work/bin:$PATH"
fi
if [ ! -f node_modules/webgpu/package.json ] || [ ! -f node_modules/tsx/package.json ]; then
  if [ ! -f "$carry/node_modules.tar.xz" ]; then say "no node_modules here and no $carry/node_modules.tar.xz"; exit 1; fi
  say "unpacking node_modules from $carry"
  rm -rf node_modules
  tar -xJf "$carry/node_modules.tar.xz"
fi
if [ -z "${WEBGRAD_DATA:-}" ] && [ -f "$carry/data/mnist/train-images-idx3-ubyte.gz" ]; then export WEBGRAD_DATA="$carry/data/mnist"; fi
say "node $(node --version), $(nproc) cores, quick=$quick, steps $steps, results in $out"

# --- the steps ---------------------------------------------------------------------------------
# run NAME SECONDS COMMAND…: output appended to the log (and its tail kept), exit code and wall
# seconds into $work/NAME.step.json.
run() {
  local name=$1 limit=$2; shift 2
  say "step $name: $*"
  local start=$SECONDS
  timeout --kill-after=10 "$limit" "$@" > "$work/$name.out" 2>&1
  local code=$?
  cat "$work/$name.out" >> "$log"
  node -e '
    const [name, code, seconds, file, limit] = process.argv.slice(1);
    const text = require("node:fs").readFileSync(file, "utf8");
    const record = { exitCode: Number(code), seconds: Number(seconds), timedOut: Number(code) === 124 || Number(code) === 137, limitSeconds: Number(limit), tail: text.split("\n").slice(-25).join("\n") };
    require("node:fs").writeFileSync(file.replace(/\.out$/, ".step.json"), JSON.stringify(record));
  ' "$name" "$code" "$((SECONDS - start))" "$work/$name.out" "$limit"
  say "step $name: exit $code after $((SECONDS - start)) s"
  return $code
}

if wants adapter; then
  run adapter 120 node --import tsx bench/adapter.ts
  tail -n 1 "$work/adapter.out" > "$work/adapter.json"
fi

if wants repro; then
  # Only on hardware Vulkan: software Vulkan is known to crash it, and must not be run.
  if [ -f "$work/adapter.json" ] && node -e 'const a = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")); process.exit(a.backend === "vulkan" && !a.software ? 0 : 1)' "$work/adapter.json" 2> /dev/null; then
    repro=""
    for candidate in "$root/shared/repro/dawn-vulkan-crash.mjs" "$carry/repro/dawn-vulkan-crash.mjs" "$root/../shared/repro/dawn-vulkan-crash.mjs"; do
      if [ -f "$candidate" ]; then repro=$candidate; break; fi
    done
    if [ -n "$repro" ]; then
      # The repro imports 'webgpu': a copy in the scratch folder finds it through a linked node_modules.
      mkdir -p "$work/repro"
      cp "$repro" "$work/repro/dawn-vulkan-crash.mjs"
      ln -s "$root/node_modules" "$work/repro/node_modules"
      for variant in fill cpu json; do run "repro-$variant" 120 env V=$variant node "$work/repro/dawn-vulkan-crash.mjs"; done
    else
      say "repro: dawn-vulkan-crash.mjs is neither in shared/ nor in $carry/repro"
    fi
  else
    say "repro: skipped, the adapter is not hardware Vulkan"
  fi
fi

if wants tests; then
  if [ $quick = 1 ]; then files="test/device.test.ts test/gemm.test.ts"
  else files=$(grep -l "helpers/gpu" test/*.test.ts | tr '\n' ' '); fi
  run tests 420 npx vitest run --config test/vitest.config.ts --reporter=default --reporter=json --outputFile.json="$work/vitest.json" $files
fi

if wants gemm; then
  if [ $quick = 1 ]; then run gemm 300 node --import tsx bench/gemm.ts --quick --variants --out "$work/gemm.json"
  else run gemm 300 node --import tsx bench/gemm.ts --variants --out "$work/gemm.json"; fi
fi

# Its layers and repetitions are small already, so --quick runs it whole.
if wants conv-implicit; then
  run conv-implicit 300 node --import tsx bench/conv_implicit.ts --out "$work/conv-implicit.json"
fi

if wants train-step; then
  if [ $quick = 1 ]; then run train-step 300 node --import tsx bench/train-step.ts --models cnn --batches 64 --steps 5 --out "$work/train-step.json"
  else run train-step 300 node --import tsx bench/train-step.ts --models cnn,cnn-bn,mlp,lstm --batches 64,128,256 --out "$work/train-step.json"; fi
fi

if wants time-to-99; then
  if [ $quick = 1 ]; then run time-to-99 300 node --import tsx bench/time-to-99.ts --quick --out "$work/time-to-99.json"
  else run time-to-99 480 node --import tsx bench/time-to-99.ts --seeds 1,2,3 --out "$work/time-to-99.json"; fi
fi

# --- one JSON ----------------------------------------------------------------------------------
node -e '
  const fs = require("node:fs"), path = require("node:path");
  const [work, outFile, quick, steps] = process.argv.slice(1);
  const read = (name) => { try { return JSON.parse(fs.readFileSync(path.join(work, name), "utf8")); } catch { return null; } };
  const text = (name) => { try { return fs.readFileSync(path.join(work, name), "utf8").trim(); } catch { return null; } };
  const vitest = read("vitest.json");
  const result = {
    date: new Date().toISOString(), quick: quick === "1", steps: steps.split(","),
    node: process.version, cores: require("node:os").cpus().length, nvidiaSmi: text("nvidia-smi.txt"),
    adapter: read("adapter.json"),
    runs: Object.fromEntries(fs.readdirSync(work).filter((f) => f.endsWith(".step.json")).map((f) => [f.slice(0, -10), read(f)])),
    tests: vitest && {
      files: vitest.testResults.length, passed: vitest.numPassedTests, failed: vitest.numFailedTests, total: vitest.numTotalTests,
      failures: vitest.testResults.flatMap((file) => file.assertionResults.filter((t) => t.status === "failed").map((t) => `${path.relative(process.cwd(), file.name)} > ${t.fullName}`)),
    },
    gemm: read("gemm.json"), convImplicit: read("conv-implicit.json"), trainStep: read("train-step.json"), timeTo99: read("time-to-99.json"),
  };
  fs.writeFileSync(outFile, JSON.stringify(result, null, 2) + "\n");
' "$work" "$out/device-check.json" "$quick" "$steps"
say "wrote $out/device-check.json"
rm -rf "$work"

#!/usr/bin/env bash
# The GPU rows: numpy, JAX and PyTorch on the CPU and the GPU, feed and resident placement
# (and jax-jit's lax.scan loop), on a machine with no network.
#
#   tools/gpu_run.sh [OUT_DIR] [extra `bench run` arguments, e.g. --steps 200]
#
# OUT_DIR defaults to $OUT (the device machine's output folder), else results/gpu. It gets
# one result JSON and one printed table per run, and environment.txt (plugins, devices,
# versions, nvidia-smi).
#
# Nothing is installed: the image's Python must already have torch, jax (with its CUDA
# plugin), numpy, pluggy, tabulate, tqdm, psutil and threadpoolctl. bench's remaining
# dependencies are not needed here: platformdirs only locates the CIFAR-10 cache (this
# script uses --dataset synthetic) and TensorFlow only runs the tf-* rows (not run here).
# tools/offline_site.py makes this checkout importable as the bench distribution, entry
# points included, through PYTHONPATH. Set PYTHON to choose the interpreter.
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-${OUT:-$repo/results/gpu}}"
[ $# -gt 0 ] && shift
python="${PYTHON:-python3}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

site="$("$python" "$repo/tools/offline_site.py" "$work/site")" || exit 2
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
export BENCH_OFFLINE=1
cd "$work"  # results/ and caches of the runs stay out of the checkout

{
    echo "\$ bench plugins"
    "$python" -m bench plugins
    echo
    "$python" - <<'EOF'
import importlib
for name in ("jax", "torch"):
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - report, do not stop
        print(f"{name}: cannot import: {exc}")
        continue
    if name == "jax":
        print("jax", module.__version__, "devices:", module.devices())
    else:
        cuda = module.cuda.is_available()
        print("torch", module.__version__, "CUDA", module.version.cuda, "available:", cuda,
              "devices:", [module.cuda.get_device_name(i) for i in range(module.cuda.device_count())] if cuda else [])
EOF
    echo
    echo "\$ nvidia-smi"
    nvidia-smi 2>&1 || echo "(no nvidia-smi)"
} >"$out/environment.txt" 2>&1

plugins="numpy,jax-jit,jax-eager,torch-eager,torch-compile"
worst=0
run() {
    local name="$1"
    shift
    echo "== $name: bench run $*"
    "$python" -m bench run --plugins "$plugins" --devices cpu,gpu --dataset synthetic --quiet \
        --results-dir "$work/runs" --output "$out/$name.json" "$@" 2>&1 | tee "$out/$name.txt"
    local status="${PIPESTATUS[0]}"
    [ "$status" -gt "$worst" ] && worst="$status"
    echo
}

run gpu-feed --placement feed "$@"
run gpu-resident --placement resident "$@"
run gpu-resident-per-call-50 --placement resident --steps-per-call 50 --plugins numpy,jax-jit "$@"

echo "results in $out"
exit "$worst"

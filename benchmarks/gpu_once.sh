#!/usr/bin/env bash
# The first measured GPU figures in ONE command of under 8 minutes (issue 27), most important
# first, each step under its own `timeout` and inside the command's budget; every cell is
# written into $OUT/gpu_once.json (one part per step) as soon as it is measured, so a step cut
# short keeps what it measured and the steps after it still run. Logs: $OUT/<step>.log and
# $OUT/steps.log (each step's exit code and seconds).
#
# On the lent GPU machine (../shared/gpu/README.md): build .whl once with
#   bash ../shared/gpu/wheels.sh
# then run with carry [".whl"] (the script installs them; the parity step needs no pytest):
#   bash benchmarks/gpu_once.sh                       # OUT is the device tool's $OUT
# and commit $OUT/gpu_once.json as benchmarks/results/gpu_<device>_once.json.
# On a CPU, end to end with tiny sizes (budget and caps x5):
#   OUT=/tmp/gpu_once PYTHON=.venv/bin/python bash benchmarks/gpu_once.sh --tiny
# (every step passed so on a 2-core CPU with jax 0.10.2, 494 s, and with jax 0.11.2 on Python
# 3.12, the GPU machine's minor version, 720 s; both with other processes running)
#
# BUDGET_S (default 450) bounds the whole command; a step gets the smaller of its own cap and
# what is left, and starts no cell in its last 15 s. JAX's compilation cache
# (JAX_COMPILATION_CACHE_DIR, default /tmp/ofe_jax_jax_cache) lets a rerun on a still-warm
# machine skip the compiles.
set -u
: "${OUT:?set OUT to the results folder}"
mkdir -p "$OUT"
TINY=0
[ "${1:-}" = "--tiny" ] && TINY=1
SCALE=$(( TINY ? 5 : 1 ))  # a CPU compiles MJX programs several times slower than the GPU host
BUDGET_S=${BUDGET_S:-$(( 450 * SCALE ))}
PY=${PYTHON:-python3}
START=$(date +%s)
JSON="$OUT/gpu_once.json"
export PYTHONUNBUFFERED=1
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/ofe_jax_jax_cache}
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=${JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS:-1}

if [ -d .whl ]; then  # the lent machine: the wheels it lacks (../shared/gpu/wheels.sh --prefix)
  timeout 120 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/site .whl/*.whl > "$OUT/install.log" 2>&1
  echo "install rc=$? $(( $(date +%s) - START ))s" >> "$OUT/steps.log"
  export PYTHONPATH=/tmp/site:$PWD
fi

# step NAME CAP_S ARGS...: python -m benchmarks.gpu_suite ARGS into part NAME of $JSON.
step() {
  local name=$1 cap=$(( $2 * SCALE ))
  shift 2
  local left=$(( BUDGET_S - ($(date +%s) - START) ))
  local t=$(( cap < left ? cap : left ))
  if [ "$t" -lt 30 ]; then
    echo "$name skipped: ${left}s of the budget left" | tee -a "$OUT/steps.log"
    return
  fi
  local began
  began=$(date +%s)
  echo "== $name (timeout ${t}s)"
  timeout -k 10 "$t" "$PY" -m benchmarks.gpu_suite --into-part "$name" --out "$JSON" \
    --cap-s $(( t - 15 )) "$@" > "$OUT/$name.log" 2>&1
  echo "$name rc=$? $(( $(date +%s) - began ))s" | tee -a "$OUT/steps.log"
  tail -n 3 "$OUT/$name.log"
}

if [ "$TINY" = 1 ]; then
  MIN_S=0.05; K=2; SEEDS_SMALL="1 2"; SEEDS_BIG=2; BATCH=8; ENV_TASKS="Hopper-v5"
  PARITY="Hopper-v5"; LOOP_SEEDS=2; CHUNKS=2; RANDOM_STEPS=64
else
  MIN_S=2; K=64; SEEDS_SMALL="1 8"; SEEDS_BIG=8; BATCH=4096
  ENV_TASKS="Humanoid-v5 Hopper-v5 Ant-v5"; PARITY="Hopper-v5 Ant-v5"
  LOOP_SEEDS=8; CHUNKS=4; RANDOM_STEPS=256  # the batch size; ~20 s at the plan's 76 ms
fi

command -v nvidia-smi > /dev/null && timeout 30 nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
step env 60 --part env
step updates_mlp 70 --part updates --algos sac --networks mlp256x2 --seeds $SEEDS_SMALL \
  --precisions tf32 --fixed-k $K --min-seconds $MIN_S
step updates_dense 90 --part updates --algos sac --networks dense2048x2+ofenet \
  --seeds $SEEDS_BIG --precisions float32 tf32 bf16 --fixed-k $K --min-seconds $MIN_S
step envs 120 --part envs --tasks $ENV_TASKS --batches $BATCH --min-seconds $MIN_S
step parity 60 --part correctness --tasks $PARITY --no-agent-tests
step loop 150 --part loop --backends mjx mujoco --seeds $LOOP_SEEDS --chunks $CHUNKS \
  --random-steps $RANDOM_STEPS --call-seconds 2
echo "done in $(( $(date +%s) - START ))s of ${BUDGET_S}s: $JSON" | tee -a "$OUT/steps.log"

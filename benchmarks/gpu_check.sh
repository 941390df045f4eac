#!/usr/bin/env bash
# The checks that need a GPU, in one go, within 8 minutes on one CUDA device:
#   1. the backbone x adapter x task matrix on CUDA with bf16-mixed (the matrix_gpu session),
#   2. the benchmarks on CUDA (pairwise memory, training overhead, scaling: bf16 and
#      activation checkpointing, mg's AIDO attention kernels: SDPA against plain),
#   3. an FSDP smoke fit on one GPU (backbone_fsdp, bf16-mixed), then a plain predict from
#      its checkpoint, and a fit with gradient_checkpointing.
# Each step has its own time limit; a summary table comes last; the exit status is 1 when
# any step failed.
#
# Usage (from the repository root, in the dev environment):
#   bash benchmarks/gpu_check.sh              # on a GPU machine
#   bash benchmarks/gpu_check.sh --dry-run    # print the steps, run nothing
#   MG_DEVICE=cpu bash benchmarks/gpu_check.sh  # the same steps on CPU (fp32; the GPU
#                                               # matrix tests then skip), to check the script
# Options (environment):
#   PYTHON=path            the interpreter (default: .venv/bin/python, else python3)
#   MG_MATRIX=nox|pytest   run the matrix through `nox -s matrix_gpu` (default when nox is
#                          installed) or the same pytest selection in this environment
#                          (for a machine without network, where nox cannot build its env)
#   MG_CHECK_DIR=dir       where runs and logs go (default: a new temporary folder)
#   MG_TIME_SCALE=n        multiply every step's time limit by n (default 1 on CUDA, 5 on
#                          CPU, where the same steps take longer)
set -euo pipefail

cd "$(dirname "$0")/.."

DRY_RUN=0
case "${1:-}" in
  --dry-run) DRY_RUN=1 ;;
  -h | --help)
    sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  "") ;;
  *)
    echo "gpu_check.sh: unknown option $1 (see --help)" >&2
    exit 2
    ;;
esac

DEVICE="${MG_DEVICE:-cuda}"
if [[ "$DEVICE" != "cuda" && "$DEVICE" != "cpu" ]]; then
  echo "gpu_check.sh: MG_DEVICE must be cuda or cpu, not '$DEVICE'" >&2
  exit 2
fi
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
if [[ -z "${MG_MATRIX:-}" ]]; then
  if command -v nox >/dev/null 2>&1; then MG_MATRIX=nox; else MG_MATRIX=pytest; fi
fi
WORK="${MG_CHECK_DIR:-$(mktemp -d -t mg-gpu-check.XXXXXX)}"
mkdir -p "$WORK"

SCALE="${MG_TIME_SCALE:-$([[ "$DEVICE" == "cuda" ]] && echo 1 || echo 5)}"
if [[ "$DEVICE" == "cuda" ]]; then
  ACCELERATOR=gpu
  PRECISION=bf16-mixed
else
  ACCELERATOR=cpu
  PRECISION=32-true
fi
MG=("$PYTHON" -m mg.cli)
# Short fits of the quickstart (BertDNATiny on the shipped promoters), runs kept in $WORK.
SHORT=(
  --config configs/quickstart.yaml
  --trainer.accelerator "$ACCELERATOR" --trainer.devices 1 --trainer.precision "$PRECISION"
  --trainer.max_epochs 1 --trainer.limit_train_batches 8 --trainer.limit_val_batches 2
  --trainer.enable_progress_bar false
)

NAMES=()
RESULTS=()
SECONDS_TAKEN=()
FAILED=0

# step NAME LIMIT_SECONDS COMMAND...: run with a time limit, log to $WORK/NAME.log.
step() {
  local name="$1" limit="$(($2 * SCALE))"
  shift 2
  NAMES+=("$name")
  if [[ "$DRY_RUN" == 1 ]]; then
    printf '[dry-run] %-18s (limit %ss): %s\n' "$name" "$limit" "$*"
    RESULTS+=("dry-run")
    SECONDS_TAKEN+=("-")
    return 0
  fi
  echo "=== $name (limit ${limit}s): $*"
  local start=$SECONDS rc=0
  timeout --kill-after=10 "$limit" "$@" >"$WORK/$name.log" 2>&1 || rc=$?
  SECONDS_TAKEN+=("$((SECONDS - start))")
  if [[ $rc == 0 ]]; then
    RESULTS+=("ok")
  elif [[ $rc == 124 || $rc == 137 ]]; then
    RESULTS+=("TIMEOUT")
    FAILED=1
  else
    RESULTS+=("FAILED (exit $rc)")
    FAILED=1
  fi
  echo "--- $name: ${RESULTS[-1]} in ${SECONDS_TAKEN[-1]}s; last lines of $WORK/$name.log:"
  tail -n 15 "$WORK/$name.log" || true
}

echo "# mg GPU check"
echo "device: $DEVICE, precision: $PRECISION, python: $PYTHON, matrix via: $MG_MATRIX, time limits x$SCALE"
echo "work folder: $WORK"
if [[ "$DRY_RUN" == 0 ]]; then
  "$PYTHON" - <<'EOF'
import platform

import lightning
import torch
import transformers

print(f"python {platform.python_version()}, torch {torch.__version__}, "
      f"lightning {lightning.__version__}, transformers {transformers.__version__}")
if torch.cuda.is_available():
    print(f"CUDA {torch.version.cuda}: {torch.cuda.get_device_name(0)}, "
          f"bf16 supported: {torch.cuda.is_bf16_supported()}")
else:
    print("no CUDA device visible to torch")
EOF
  if [[ "$DEVICE" == "cuda" ]]; then
    "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || {
      echo "gpu_check.sh: torch sees no CUDA device; run with MG_DEVICE=cpu to check the script" >&2
      exit 1
    }
  fi
fi

# 1. The matrix on CUDA with bf16-mixed; on CPU its GPU cases skip (they only run on CUDA).
if [[ "$MG_MATRIX" == "nox" ]]; then
  if [[ "$DEVICE" == "cuda" ]]; then
    step matrix_gpu 270 env MG_REQUIRE_GPU=1 nox -s matrix_gpu
  else
    step matrix_gpu 270 nox -s matrix_gpu
  fi
elif [[ "$DEVICE" == "cuda" ]]; then
  step matrix_gpu 270 "$PYTHON" -m pytest tests/matrix -m gpu -q -p no:cacheprovider
else
  # Without CUDA the GPU cases fail by design; collecting them checks the selection.
  step matrix_gpu 270 "$PYTHON" -m pytest tests/matrix -m gpu -q -p no:cacheprovider --collect-only
fi

# 2. Benchmarks, short modes.
step bench_pairwise 30 "$PYTHON" benchmarks/pairwise_memory.py --device "$DEVICE" --quick
step bench_overhead 40 "$PYTHON" benchmarks/training_overhead.py --device "$DEVICE" \
  --steps 20 --warmup 3 --repeats 2
step bench_scaling 30 "$PYTHON" benchmarks/scaling.py --device "$DEVICE" --quick
step bench_aido_kernels 60 "$PYTHON" benchmarks/aido_speed.py --device "$DEVICE" --kernels \
  --sizes small,medium --repeats 1

# 3. FSDP on one device (no sharding, but the whole path: per-layer wrapping, bf16
#    gathers, the full checkpoint), then a plain predict from that checkpoint.
step fsdp_fit 45 "${MG[@]}" fit "${SHORT[@]}" --trainer.strategy backbone_fsdp \
  --trainer.logger.init_args.save_dir "$WORK/runs" --trainer.logger.init_args.name fsdp
if [[ "$DRY_RUN" == 1 ]]; then
  CKPT="$WORK/runs/fsdp/version_0/checkpoints/last.ckpt"
else
  CKPT="$(find "$WORK/runs/fsdp" -name last.ckpt 2>/dev/null | head -n 1 || true)"
fi
if [[ -n "$CKPT" ]]; then
  step fsdp_predict 30 "${MG[@]}" predict --config configs/quickstart.yaml \
    --trainer.accelerator "$ACCELERATOR" --trainer.devices 1 --trainer.limit_predict_batches 2 \
    --trainer.enable_progress_bar false --trainer.logger.init_args.save_dir "$WORK/runs" \
    --trainer.logger.init_args.name fsdp --ckpt_path "$CKPT" --output "$WORK/fsdp.tsv"
else
  NAMES+=(fsdp_predict)
  RESULTS+=("FAILED (fsdp_fit wrote no last.ckpt)")
  SECONDS_TAKEN+=("-")
  FAILED=1
fi
step checkpointing_fit 35 "${MG[@]}" fit "${SHORT[@]}" \
  --model.backbone.init_args.gradient_checkpointing true \
  --trainer.logger.init_args.save_dir "$WORK/runs" --trainer.logger.init_args.name checkpointing

echo
echo "## Summary ($DEVICE)"
echo
echo "| step | result | seconds |"
echo "|---|---|---:|"
for i in "${!NAMES[@]}"; do
  echo "| ${NAMES[$i]} | ${RESULTS[$i]} | ${SECONDS_TAKEN[$i]} |"
done
echo
echo "logs: $WORK"
exit "$FAILED"

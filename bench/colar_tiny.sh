#!/usr/bin/env bash
# The CoLaR targets on the tiny preset, one training seed per call (SEED, default 0), in
# batches of 16 (the README's session-9 finding: the tiny model learns more per example from
# them, and a step costs a third of a step of 64). Stages in order, each evaluated as soon as it is
# trained and skipped when finished before:
#   cot      CoT SFT, 8 epochs                          → CoT ≥ 95 % (the paper's sampling)
#   c2       CoLaR at c = 2 only, input noise 0.5, 8 epochs → CoLaR-2 above No-CoT
#   every-c  CoLaR, c drawn from 1–5, input noise 0.5, 8 epochs → one model: c = 1 ≥ 60 %, # L,
#            teacher-forced, ms/question per c
#   nocot    No-CoT SFT, 8 epochs (as long as CoT)     → the baseline
# Evaluation: EVAL_N problems × EVAL_SEEDS seeds, the paper's sampling (CoT also greedy).
# 74.5 minutes measured for seed 0 on a 2-core machine (lavapipe, AMD EPYC Zen 5; the README's
# session-9 section has the table).
#   usage: bench/colar_tiny.sh OUT_DIR     (EXTRA="key=value ..." is added to every training run)
set -euo pipefail
out=${1:?usage: bench/colar_tiny.sh OUT_DIR}
seed=${SEED:-0}
eval_n=${EVAL_N:-200}
eval_seeds=${EVAL_SEEDS:-5}
extra=${EXTRA:-}
cli="${NODE:-node} dist/cli/main.js"
mkdir -p "$out/logs"
stamp() { echo "[$(date +%T)] $*"; }
finished() { grep -q '^done:' "$out/logs/$1.log" 2>/dev/null; }

# shellcheck disable=SC2086
train() { # run name (its directory and log), stage, overrides... (--resume always: a rerun continues a stage a crash cut short)
  local name=$1 stage=$2
  shift 2
  finished "$name" && return
  stamp "train $name"
  $cli train --preset tiny --stage "$stage" --out "$out/$name" --resume seed="$seed" train.batch_size=16 "$@" $extra > "$out/logs/$name.log" 2>&1
}
evaluate() { # run name, log tag, flags...
  local log="$out/logs/eval-$1$2.log"
  grep -q '^wrote' "$log" 2>/dev/null && return
  stamp "eval $1 ${*:3}"
  $cli eval --ckpt "$out/$1" -n "$eval_n" --seeds "$eval_seeds" --batch "$eval_n" "${@:3}" > "$log" 2>&1
}

colar=(model.init_from="$out/cot" train.lr=1e-3 latent_loss=mse colar.input_noise=0.5 train.epochs=8)
train cot cot train.epochs=8
evaluate cot ''
evaluate cot -greedy --greedy --out "$out/cot/eval-greedy"
train c2 colar "${colar[@]}" colar.max_compression_factor='"2"' colar.val_compression=2
evaluate c2 '' --compression 2 --teacher-forced --cot
train every-c colar "${colar[@]}" colar.val_compression=1
evaluate every-c '' --compression 1,2,3,4,5 --teacher-forced --cot
train nocot nocot train.epochs=8
evaluate nocot ''
grep -h -A12 '^row' "$out"/logs/eval-*.log
stamp done

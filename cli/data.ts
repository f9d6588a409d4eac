// `colar-wgpu data`: look at, convert and generate datasets, and write the synthetic tokenizer.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { integerAtLeast } from './flags.js';
import { JSON_HELP, printJson, textLines } from './output.js';
import { fileError, refuseOutputOverInput, STDOUT, writeFileAtomic } from '../io/files.js';
import { readTokenizerFile } from '../colar/llama/node_files.js';
import { Tokenizer } from '../colar/llama/tokenizer.js';
import type { DatasetError } from '../datasets/dataset_error.js';
import { INPUT_FORMATS, type InputFormat, type LoadOptions, streamRecords } from '../datasets/load.js';
import { multiplicationDataset, type MultiplicationOptions } from '../datasets/multiplication.js';
import { type PromptTokenizer, withSpecialTokens } from '../datasets/prompt.js';
import type { QsaRecord } from '../datasets/record.js';
import { SPLITS, type Split } from '../datasets/split.js';
import { answerKind, histogram, summarize, type Summary, tokenLengths } from '../datasets/stats.js';
import { type ArithmeticOptions, arithmeticDataset, arithmeticOptionsProblem, DEFAULT_ARITHMETIC_OPTIONS } from '../datasets/synthetic.js';
import { type NumberTokens, SPECIAL_TOKENS, syntheticTokenizerFiles } from '../datasets/vocab.js';
import { OUTPUT_FORMATS, type OutputFormat, writeRecords } from '../datasets/write.js';

interface ReadFlags {
  format?: InputFormat;
  skipBad?: boolean;
  question: string;
  answer: string;
  steps?: string;
}

/** The options every command that reads a file shares. */
function withReadOptions(command: Command): Command {
  return command
    .addOption(new Option('--format <format>', 'input format (detected when omitted)').choices(INPUT_FORMATS))
    .option('--skip-bad', 'skip malformed records and count them, instead of stopping at the first')
    .option('--question <column>', 'CSV: question column', 'question')
    .option('--answer <column>', 'CSV: answer column', 'answer')
    .option('--steps <column>', "CSV: steps column, split on newlines (default: 'steps' when present)");
}

function loadOptions(flags: ReadFlags, skipped: DatasetError[]): LoadOptions {
  const csv = { question: flags.question, answer: flags.answer, ...(flags.steps === undefined ? {} : { steps: flags.steps }) };
  return { format: flags.format, onBadRecord: flags.skipBad ? 'skip' : 'fail', skipped, csv };
}

/** The records of `file`; a file-system failure names the file. */
async function* recordsOf(file: string, options: LoadOptions): AsyncGenerator<QsaRecord> {
  try {
    yield* streamRecords(file, options);
  } catch (err) {
    throw fileError(err, 'read', file);
  }
}

async function readAll(file: string, flags: ReadFlags): Promise<{ records: QsaRecord[]; skipped: DatasetError[] }> {
  const skipped: DatasetError[] = [];
  const records: QsaRecord[] = [];
  for await (const record of recordsOf(file, loadOptions(flags, skipped))) records.push(record);
  return { records, skipped };
}

/** A tokenizer.json path, or "synthetic" for the built-in vocabulary. */
async function promptTokenizer(spec: string): Promise<PromptTokenizer> {
  if (spec === 'synthetic') return withSpecialTokens(Tokenizer.fromJSON(syntheticTokenizerFiles().tokenizer, 'synthetic'), { eos_token: SPECIAL_TOKENS.eos, pad_token: SPECIAL_TOKENS.pad });
  const tokenizer = await readTokenizerFile(spec);
  // Llama-3 names its EOS in tokenizer_config.json beside tokenizer.json; the reference adds [PAD].
  const config = JSON.parse(await readFile(join(spec, '..', 'tokenizer_config.json'), 'utf8').catch(() => '{}')) as Record<string, unknown>;
  const eos = typeof config.eos_token === 'string' ? config.eos_token : SPECIAL_TOKENS.eos;
  const pad = typeof config.pad_token === 'string' ? config.pad_token : eos;
  return withSpecialTokens(tokenizer, { eos_token: eos, pad_token: pad });
}

const formatSummary = (s: Summary) =>
  s.count === 0 ? 'none' : `min ${s.min}  mean ${s.mean.toFixed(1)}  median ${s.median}  p90 ${s.p90}  max ${s.max}`;

const formatHistogram = (counts: Map<number, number>, width = 1) =>
  [...counts].map(([bucket, count]) => `${width === 1 ? bucket : `${bucket}-${bucket + width - 1}`}:${count}`).join('  ');

function inspectCommand(): Command {
  return withReadOptions(new Command('inspect').alias('stats'))
    .description('counts, chain lengths in steps, characters and (with --tokenizer) tokens, answer kinds, bad records')
    .argument('<file>', 'dataset file')
    .option('--tokenizer <path>', "a tokenizer.json, or 'synthetic' for the built-in vocabulary")
    .option('--json', JSON_HELP)
    .action(async (file: string, flags: ReadFlags & { tokenizer?: string; json?: boolean }) => {
      const { records, skipped } = await readAll(file, flags);
      const steps = records.map((r) => r.steps.length);
      const kinds = { integer: 0, decimal: 0, other: 0 };
      for (const r of records) kinds[answerKind(r.answer)]++;
      const lengths = flags.tokenizer === undefined ? undefined : tokenLengths(records, await promptTokenizer(flags.tokenizer));
      if (flags.json) {
        printJson({
          file, records: records.length, skipped: skipped.map((problem) => problem.message),
          steps: summarize(steps), steps_histogram: Object.fromEntries(histogram(steps)),
          chain_characters: summarize(records.map((r) => r.steps.join('\n').length)),
          question_characters: summarize(records.map((r) => r.question.length)),
          answers: kinds,
          ...(lengths && { chain_tokens: summarize(lengths.chain), example_tokens: summarize(lengths.example) }),
        });
        return;
      }
      const lines = [
        `${file}: ${records.length} records, ${skipped.length} malformed skipped`,
        `steps per chain: ${formatSummary(summarize(steps))}`,
        `  histogram: ${formatHistogram(histogram(steps))}`,
        `chain characters (steps joined by \\n): ${formatSummary(summarize(records.map((r) => r.steps.join('\n').length)))}`,
        `question characters: ${formatSummary(summarize(records.map((r) => r.question.length)))}`,
        `answers: ${kinds.integer} integer, ${kinds.decimal} decimal, ${kinds.other} other`,
      ];
      if (lengths) {
        lines.push(
          `chain tokens ("###" + steps): ${formatSummary(summarize(lengths.chain))}`,
          `  histogram: ${formatHistogram(histogram(lengths.chain, 8), 8)}`,
          `tokens per CoT example: ${formatSummary(summarize(lengths.example))}`,
        );
      }
      for (const problem of skipped.slice(0, 5)) lines.push(`  skipped ${problem.message}`);
      console.log(lines.join('\n'));
    });
}

function previewCommand(): Command {
  return withReadOptions(new Command('preview'))
    .description('print the first records as question, steps and answer')
    .argument('<file>', 'dataset file')
    .option('-n, --questions <n>', 'how many records', integerAtLeast(1), 5)
    .option('--json', JSON_HELP)
    .action(async (file: string, flags: ReadFlags & { questions: number; json?: boolean }) => {
      const shown: QsaRecord[] = [];
      for await (const record of recordsOf(file, loadOptions(flags, []))) {
        if (!flags.json) {
          console.log(`#${record.id} (${record.source.file}:${record.source.line})\n  question: ${record.question}`);
          record.steps.forEach((step, i) => console.log(`  step ${i + 1}: ${step}`));
          console.log(`  answer: ${record.answer}`);
        }
        if (shown.push(record) === flags.questions) break;
      }
      if (flags.json) printJson(shown);
    });
}

function convertCommand(): Command {
  return withReadOptions(new Command('convert'))
    .description('convert a dataset file to QSA JSON (what training reads) or iCoT lines')
    .argument('<file>', 'dataset file')
    .addOption(new Option('--to <format>', 'output format').choices(OUTPUT_FORMATS).default('qsa-json'))
    .requiredOption('--out <file>', "output file, or '-' for standard output")
    .action(async (file: string, flags: ReadFlags & { to: OutputFormat; out: string }) => {
      if (flags.out !== STDOUT) refuseOutputOverInput(flags.out, [file]);
      const skipped: DatasetError[] = [];
      let written = 0;
      const counted = async function* () {
        for await (const record of recordsOf(file, loadOptions(flags, skipped))) {
          written++;
          yield record;
        }
      };
      await writeRecords(flags.out, counted(), flags.to);
      textLines(flags.out === STDOUT)(`${flags.out}: ${written} records written, ${skipped.length} malformed skipped`);
    });
}

function parseDigits(text: string): MultiplicationOptions {
  const match = /^(\d+)x(\d+)$/.exec(text);
  if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) throw new InvalidArgumentError('expected NxM, e.g. 4x4');
  return { aDigits: Number(match[1]), bDigits: Number(match[2]) };
}

type SynthFlags = ArithmeticOptions & {
  task: 'arithmetic' | 'multiplication';
  split: Split;
  questions: number;
  seed: number;
  out: string;
  to: OutputFormat;
  digits: MultiplicationOptions;
};

function synthCommand(): Command {
  const defaults = DEFAULT_ARITHMETIC_OPTIONS;
  return new Command('synth')
    .description('generate a split of a built-in task (deterministic by seed; splits never share a question)')
    .addOption(new Option('--task <task>', 'which task').choices(['arithmetic', 'multiplication']).default('arithmetic'))
    .addOption(new Option('--split <split>', 'which split').choices(SPLITS).default('train'))
    .option('-n, --questions <n>', 'number of problems', integerAtLeast(1), 1000)
    .option('--seed <seed>', 'random seed', integerAtLeast(0), 0)
    .requiredOption('--out <file>', "output file, or '-' for standard output")
    .addOption(new Option('--to <format>', 'output format').choices(OUTPUT_FORMATS).default('qsa-json'))
    .option('--min-steps <n>', 'arithmetic: fewest steps', integerAtLeast(1), defaults.minSteps)
    .option('--max-steps <n>', 'arithmetic: most steps', integerAtLeast(1), defaults.maxSteps)
    .option('--max-start <n>', 'arithmetic: largest starting amount', integerAtLeast(2), defaults.maxStart)
    .option('--max-addend <n>', 'arithmetic: largest number added or taken away', integerAtLeast(1), defaults.maxAddend)
    .option('--max-factor <n>', 'arithmetic: largest multiplier or divisor', integerAtLeast(2), defaults.maxFactor)
    .option('--min-value <n>', 'arithmetic: smallest value anywhere in the chain', integerAtLeast(1), defaults.minValue)
    .option('--max-value <n>', 'arithmetic: largest value anywhere in the chain', integerAtLeast(2), defaults.maxValue)
    .addOption(new Option('--digits <NxM>', 'multiplication: operand digits').argParser(parseDigits).default({ aDigits: 4, bDigits: 4 }, '4x4'))
    .action(async (flags: SynthFlags) => {
      const { minSteps, maxSteps, maxStart, maxAddend, maxFactor, minValue, maxValue } = flags;
      const arithmetic = { minSteps, maxSteps, maxStart, maxAddend, maxFactor, minValue, maxValue };
      const problem = flags.task === 'arithmetic' ? arithmeticOptionsProblem(arithmetic) : null;
      if (problem) throw new Error(`data synth --min-steps/--max-steps/--min-value/--max-start/--max-value: ${problem}`);
      const records =
        flags.task === 'arithmetic'
          ? arithmeticDataset(flags.split, flags.questions, flags.seed, arithmetic)
          : multiplicationDataset(flags.split, flags.questions, flags.seed, flags.digits);
      await writeRecords(flags.out, records, flags.to);
      textLines(flags.out === STDOUT)(`${flags.out}: ${records.length} ${flags.task} ${flags.split} problems, seed ${flags.seed}`);
    });
}

function vocabCommand(): Command {
  return new Command('vocab')
    .description('write the synthetic tasks\' tokenizer.json and tokenizer_config.json')
    .requiredOption('--out <dir>', 'output directory')
    .addOption(new Option('--numbers <mode>', 'digit by digit, or 1-3 digit chunks as Llama-3 cuts them').choices(['digits', 'chunks']).default('digits'))
    .action(async (flags: { out: string; numbers: NumberTokens }) => {
      const files = syntheticTokenizerFiles(flags.numbers);
      await writeFileAtomic(join(flags.out, 'tokenizer.json'), `${JSON.stringify(files.tokenizer, null, 2)}\n`);
      await writeFileAtomic(join(flags.out, 'tokenizer_config.json'), `${JSON.stringify(files.config, null, 2)}\n`);
      console.log(`${flags.out}: tokenizer.json and tokenizer_config.json, ${files.vocabSize} tokens`);
    });
}

export function dataCommand(): Command {
  return new Command('data')
    .description('inspect, preview, convert and synthesize datasets; write the synthetic tokenizer')
    .addCommand(inspectCommand())
    .addCommand(previewCommand())
    .addCommand(convertCommand())
    .addCommand(synthCommand())
    .addCommand(vocabCommand());
}

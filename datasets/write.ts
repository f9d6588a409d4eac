// Writes records as QSA JSON (what the reference trains on) or as iCoT lines, streaming, so
// converting a large file never holds it in memory; a file appears only once it is complete.

import { writeChunksOrStdout } from '../io/files.js';
import { formatIcotLine } from './formats/icot.js';
import { qsaJsonChunks } from './formats/qsa_json.js';
import type { QuestionStepsAnswer } from './record.js';

export const OUTPUT_FORMATS = ['qsa-json', 'icot'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

type Records = AsyncIterable<QuestionStepsAnswer> | Iterable<QuestionStepsAnswer>;

async function* icotChunks(records: Records): AsyncGenerator<string> {
  for await (const record of records) yield `${formatIcotLine(record)}\n`;
}

/** Writes `records` to `file` atomically, or to standard output when `file` is `-`. */
export async function writeRecords(file: string, records: Records, format: OutputFormat): Promise<void> {
  // atomic: a bad record part-way through a conversion leaves no partial file behind
  await writeChunksOrStdout(file, format === 'qsa-json' ? qsaJsonChunks(records) : icotChunks(records));
}

// Reads any supported dataset file into QsaRecords: picks the format from the file's shape
// (or takes it by name), streams the records, and applies one policy to malformed records:
// fail at the first (default), or skip them and hand back each one's error for counting.

import { DatasetError, MalformedRecord } from './dataset_error.js';
import { csvRawRecords, type CsvColumns, DEFAULT_CSV_COLUMNS } from './formats/csv.js';
import { parseGsm8kLine } from './formats/gsm8k.js';
import { parseIcotLine } from './formats/icot.js';
import { parsePalLine } from './formats/pal.js';
import { parseQsaElement, streamJsonArrayElements } from './formats/qsa_json.js';
import { readNonEmptyLines } from './lines.js';
import type { RawRecord } from './raw_record.js';
import type { QsaRecord, QuestionStepsAnswer } from './record.js';
import { readUtf8Chunks } from './utf8_text.js';

export const INPUT_FORMATS = ['qsa-json', 'icot', 'gsm8k', 'pal', 'csv'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export type BadRecordPolicy = 'fail' | 'skip';

export interface LoadOptions {
  /** Detected from the file when not given. */
  format?: InputFormat;
  onBadRecord?: BadRecordPolicy;
  /** With onBadRecord 'skip': receives the error of every record skipped. */
  skipped?: DatasetError[];
  csv?: Partial<CsvColumns>;
}

/** The file's first chunk of text (tens of kilobytes), without a byte-order mark. */
async function fileStart(file: string): Promise<string> {
  for await (const text of readUtf8Chunks(file)) return text.replace(/^\uFEFF/, '');
  return '';
}

/** Names the format of a file from its extension (CSV) or its first record. */
export async function detectFormat(file: string): Promise<InputFormat> {
  if (file.toLowerCase().endsWith('.csv')) return 'csv';
  const start = await fileStart(file);
  const firstLine = start.split('\n').find((text) => text.trim() !== '')?.trim() ?? '';
  if (firstLine.startsWith('[')) return 'qsa-json';
  if (firstLine.startsWith('{')) {
    let keys: string[] = [];
    try {
      keys = Object.keys(JSON.parse(firstLine) as object);
    } catch {
      // a first line that is not a whole object falls through to the error below
    }
    if (keys.includes('question') && keys.includes('answer')) return 'gsm8k';
    if (keys.includes('input') && keys.includes('target')) return 'pal';
  }
  if (firstLine.includes('||') && firstLine.includes('####')) return 'icot';
  throw new DatasetError(file, 1, `cannot tell the format from the first record; name one of ${INPUT_FORMATS.join(', ')}`);
}

async function* lineRecords(file: string, parseLine: (text: string) => QuestionStepsAnswer): AsyncGenerator<RawRecord> {
  for await (const { text, line } of readNonEmptyLines(file)) yield { line, parse: () => parseLine(text) };
}

async function* qsaJsonRecords(file: string): AsyncGenerator<RawRecord> {
  for await (const { text, line } of streamJsonArrayElements(file)) yield { line, parse: () => parseQsaElement(text) };
}

function rawRecords(file: string, format: InputFormat, csv: Partial<CsvColumns> | undefined): AsyncGenerator<RawRecord> {
  switch (format) {
    case 'qsa-json':
      return qsaJsonRecords(file);
    case 'icot':
      return lineRecords(file, parseIcotLine);
    case 'gsm8k':
      return lineRecords(file, parseGsm8kLine);
    case 'pal':
      return lineRecords(file, parsePalLine);
    case 'csv':
      return csvRawRecords(file, { ...DEFAULT_CSV_COLUMNS, ...csv });
  }
}

/** Streams the records of a file. Whole-file faults (unreadable, unknown format, broken structure) always throw. */
export async function* streamRecords(file: string, options: LoadOptions = {}): AsyncGenerator<QsaRecord> {
  const format = options.format ?? (await detectFormat(file));
  const policy = options.onBadRecord ?? 'fail';
  let id = 0;
  for await (const raw of rawRecords(file, format, options.csv)) {
    const source = { file, line: raw.line };
    let fields: QuestionStepsAnswer;
    try {
      fields = raw.parse();
    } catch (error) {
      if (!(error instanceof MalformedRecord)) throw error;
      const problem = new DatasetError(file, raw.line, `${format} record: ${error.message}`);
      if (policy === 'fail') throw problem;
      options.skipped?.push(problem);
      id++;
      continue;
    }
    yield { id: id++, ...fields, source };
  }
}

export interface LoadedDataset {
  format: InputFormat;
  records: QsaRecord[];
  skipped: DatasetError[];
}

/** Reads a whole file into memory. */
export async function loadRecords(file: string, options: LoadOptions = {}): Promise<LoadedDataset> {
  const format = options.format ?? (await detectFormat(file));
  const skipped: DatasetError[] = [];
  const records: QsaRecord[] = [];
  for await (const record of streamRecords(file, { ...options, format, skipped })) records.push(record);
  return { format, records, skipped };
}

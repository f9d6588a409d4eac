// CSV with a header row (csv-parse, streaming). Column names are configurable; steps are one
// column split on a separator, or none when the file has no steps column.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { FileError } from '../../io/files.js';
import { oneLine } from '../../io/one_line.js';
import { DatasetError, MalformedRecord } from '../dataset_error.js';
import type { RawRecord } from '../raw_record.js';
import { readUtf8Chunks } from '../utf8_text.js';

export interface CsvColumns {
  question: string;
  answer: string;
  /** The steps column; when not given, a column named "steps" is used if the header has one. */
  steps?: string;
  stepSeparator: string;
}

export const DEFAULT_CSV_COLUMNS: CsvColumns = { question: 'question', answer: 'answer', stepSeparator: '\n' };

interface ParsedRow {
  record: string[];
  raw: string;
  info: { lines: number };
}

/** csv-parse reports the line where a row ends; a quoted field may span lines, and raw text carries skipped blank lines before the row. */
function startLine(row: ParsedRow): number {
  const body = row.raw.replace(/^[\r\n]+/, '').replace(/\r?\n$/, '');
  return row.info.lines - (body.match(/\n/g)?.length ?? 0);
}

export async function* csvRawRecords(file: string, columns: CsvColumns = DEFAULT_CSV_COLUMNS): AsyncGenerator<RawRecord> {
  const rows = parse({ info: true, raw: true, relax_column_count: true, skip_empty_lines: true, bom: true });
  // A read error (invalid UTF-8, a missing file) destroys `rows` with it, so the loop below throws it.
  pipeline(Readable.from(readUtf8Chunks(file)), rows).catch(() => undefined);
  let index: { question: number; answer: number; steps: number; width: number } | undefined;
  try {
    for await (const row of rows as AsyncIterable<ParsedRow>) {
      const line = startLine(row);
      if (index === undefined) {
        const header = row.record;
        const find = (name: string) => header.indexOf(name);
        const missing = [columns.question, columns.answer, ...(columns.steps === undefined ? [] : [columns.steps])].filter((name) => find(name) < 0);
        if (missing.length > 0) throw new DatasetError(file, line, `header has no column ${missing.map((name) => `'${name}'`).join(', ')} (columns: ${oneLine(header.join(', '))})`);
        index = { question: find(columns.question), answer: find(columns.answer), steps: find(columns.steps ?? 'steps'), width: header.length };
        continue;
      }
      const { question, answer, steps, width } = index;
      const fields = row.record;
      yield {
        line,
        parse: () => {
          if (fields.length !== width) throw new MalformedRecord(`expected ${width} fields as in the header, found ${fields.length}`);
          if (fields[question].trim() === '') throw new MalformedRecord(`empty '${columns.question}'`);
          if (fields[answer].trim() === '') throw new MalformedRecord(`empty '${columns.answer}'`);
          const chain = steps < 0 ? '' : fields[steps];
          return { question: fields[question], steps: chain === '' ? [] : chain.split(columns.stepSeparator), answer: fields[answer].trim() };
        },
      };
    }
  } catch (error) {
    if (error instanceof DatasetError || error instanceof FileError) throw error;
    const lines = (error as { lines?: number }).lines ?? 0;
    throw new DatasetError(file, lines, `CSV syntax: ${(error as Error).message}`);
  }
}

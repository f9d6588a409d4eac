// Streams a text file line by line with 1-based line numbers, so line formats never hold
// a whole file (GSM8k-Aug train is ~88 MB) and errors can name the line.

import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { readUtf8Chunks } from './utf8_text.js';

export interface NumberedLine {
  text: string;
  line: number;
}

/** Non-empty lines of a UTF-8 file; CRLF and a missing final newline are accepted, invalid UTF-8 is not. */
export async function* readNonEmptyLines(file: string): AsyncGenerator<NumberedLine> {
  const reader = createInterface({ input: Readable.from(readUtf8Chunks(file)), crlfDelay: Infinity });
  let line = 0;
  for await (const text of reader) {
    line++;
    if (text.trim() !== '') yield { text, line };
  }
}

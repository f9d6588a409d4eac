// Streams a text file line by line with 1-based line numbers, so line formats never hold
// a whole file (GSM8k-Aug train is ~88 MB) and errors can name the line.

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface NumberedLine {
  text: string;
  line: number;
}

/** Non-empty lines of a UTF-8 file; CRLF and a missing final newline are accepted. */
export async function* readNonEmptyLines(file: string): AsyncGenerator<NumberedLine> {
  const reader = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of reader) {
    line++;
    if (text.trim() !== '') yield { text, line };
  }
}

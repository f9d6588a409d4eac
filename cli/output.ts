// How commands print: the result on stdout, as text for people or, with --json, as exactly one
// JSON document for programs; progress and notes on stderr, so they never mix with the result.

export const JSON_HELP = 'print the result as one JSON document on stdout (progress stays on stderr)';

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** Where a command's text lines go: stderr when stdout carries JSON or data, else stdout. */
export const textLines = (stdoutTaken: boolean) => (line: string) => (stdoutTaken ? console.error(line) : console.log(line));

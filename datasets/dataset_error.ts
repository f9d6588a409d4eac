// Errors for data that cannot be read. Parsers throw MalformedRecord with only the reason;
// the loader, which knows the file and line, turns it into a DatasetError.

/** Thrown by a format parser for one bad record. */
export class MalformedRecord extends Error {
  override name = 'MalformedRecord';
}

/** A bad record or file, named by file and 1-based line. */
export class DatasetError extends Error {
  override name = 'DatasetError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}

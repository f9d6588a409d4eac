// Dataset files are UTF-8 text. Node's decoder silently turns bytes that are not (a Latin-1 or
// UTF-16 file, a corrupt download) into U+FFFD, and the model would then train on or be scored
// against text nobody wrote; here the first invalid sequence stops the read, named by line and
// byte offset. Valid chunks take the native isUtf8 check; only a failing chunk is scanned.

import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { fileError } from '../io/files.js';
import { DatasetError } from './dataset_error.js';

/** Bytes a character starting with `lead` takes (0 for a byte that cannot start one). */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** Offset of the first byte of the first invalid (or truncated) sequence, or -1 (RFC 3629's rules). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i];
    const length = sequenceLength(lead);
    if (length === 0 || i + length > bytes.length) return i;
    // The second byte's range also rules out overlong forms, surrogates and code points past U+10FFFF.
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    if (length > 1 && (bytes[i + 1] < low || bytes[i + 1] > high)) return i;
    for (let k = 2; k < length; k++) if (bytes[i + k] < 0x80 || bytes[i + k] > 0xbf) return i;
    i += length;
  }
  return -1;
}

/** Length of the longest prefix of `bytes` that does not end inside a multi-byte character. */
function completePrefix(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back];
    if (b < 0x80 || b >= 0xc0) return sequenceLength(b) > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

function countNewlines(bytes: Uint8Array, end: number): number {
  let count = 0;
  for (let at = bytes.indexOf(0x0a); at >= 0 && at < end; at = bytes.indexOf(0x0a, at + 1)) count++;
  return count;
}

/** The text of `file`, chunk by chunk; invalid UTF-8 is a DatasetError naming its line and byte offset, a read failure a FileError. */
export async function* readUtf8Chunks(file: string): AsyncGenerator<string> {
  let offset = 0; // bytes of the file already yielded as text
  let line = 1;
  let carry: Buffer = Buffer.alloc(0); // an incomplete character at the end of the last chunk
  const invalid = (bytes: Buffer, at: number) => {
    const byte = `0x${bytes[at].toString(16).padStart(2, '0')}`;
    return new DatasetError(file, line + countNewlines(bytes, at), `invalid UTF-8 at byte ${offset + at} (${byte}); the file must be UTF-8 text`);
  };
  try {
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      const bytes = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const end = completePrefix(bytes);
      const text = bytes.subarray(0, end);
      if (!isUtf8(text)) throw invalid(bytes, firstInvalidUtf8(text));
      if (end > 0) yield text.toString('utf8');
      line += countNewlines(bytes, end);
      offset += end;
      carry = bytes.subarray(end);
    }
  } catch (error) {
    throw fileError(error, 'read', file);
  }
  if (carry.length > 0) throw invalid(carry, 0);
}

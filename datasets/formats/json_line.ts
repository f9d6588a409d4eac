// Shared by the JSON-lines formats: one object a line, with typed field access that reports
// what is wrong with the record instead of failing later on an undefined.

import { oneLine } from '../../io/one_line.js';
import { MalformedRecord } from '../dataset_error.js';

export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MalformedRecord(`invalid JSON: ${oneLine((error as Error).message)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedRecord('expected a JSON object');
  return value as Record<string, unknown>;
}

/** A string field with some text in it: a blank question or answer is no record. */
export function stringField(object: Record<string, unknown>, key: string): string {
  const value = object[key];
  if (typeof value !== 'string') throw new MalformedRecord(`field '${key}' must be a string, got ${describe(value)}`);
  if (value.trim() === '') throw new MalformedRecord(`field '${key}' is empty`);
  return value;
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

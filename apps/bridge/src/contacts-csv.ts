/**
 * Parses a contacts CSV: a header row with a `phone` column, optional `name` and
 * `scenario` columns, and any other column kept as a contact variable. Bad rows are
 * reported by line number and left out; a file without a usable header is rejected.
 */
import { PhoneNumber, SimScenario } from '@voxfleet/schema';
import { CsvError, parse } from 'csv-parse/sync';
import { z } from 'zod';

import { BridgeError } from './errors.js';
import type { NewContact } from './store/types.js';

export interface CsvRowError {
  /** 1-based line where the record starts. */
  line: number;
  errors: string[];
}

export interface ParsedContacts {
  /** Valid rows, each with the line it started on. */
  contacts: Array<{ line: number; contact: NewContact }>;
  rejected: CsvRowError[];
}

const MAX_NAME_LENGTH = 200;
const MAX_VARIABLE_LENGTH = 2000;
const MAX_COLUMNS = 100;
const KNOWN_COLUMNS = new Set(['phone', 'name', 'scenario']);

const CsvRecords = z.array(
  z.object({
    record: z.array(z.string()),
    info: z.object({ lines: z.number().int(), empty_lines: z.number().int() }),
  }),
);
type CsvRecord = z.infer<typeof CsvRecords>[number];

function readRecords(text: string): CsvRecord[] {
  try {
    const records: unknown = parse(text, {
      info: true,
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
    });
    return CsvRecords.parse(records);
  } catch (err) {
    if (err instanceof CsvError) {
      throw new BridgeError('CSV_INVALID', `invalid CSV: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

function readHeader(first: CsvRecord | undefined): string[] {
  if (first === undefined) {
    throw new BridgeError('CSV_EMPTY', 'CSV is empty: send a header row with a "phone" column');
  }
  const header = first.record.map((name) => name.toLowerCase());
  if (!header.includes('phone')) {
    throw new BridgeError(
      'CSV_HEADER_INVALID',
      'CSV header row must contain a "phone" column, such as "phone,name,scenario"',
      { details: [{ line: first.info.lines, message: 'no "phone" column' }] },
    );
  }
  if (header.length > MAX_COLUMNS) {
    throw new BridgeError('CSV_HEADER_INVALID', `CSV has more than ${MAX_COLUMNS} columns`);
  }
  const seen = new Set<string>();
  for (const name of header) {
    if (name === '') {
      throw new BridgeError('CSV_HEADER_INVALID', 'CSV header row has an empty column name');
    }
    if (seen.has(name)) {
      throw new BridgeError('CSV_HEADER_INVALID', `CSV header row repeats the column "${name}"`);
    }
    seen.add(name);
  }
  return header;
}

/** Validates one data row; returns the contact or the list of problems. */
function readRow(header: string[], fields: string[]): NewContact | string[] {
  const errors: string[] = [];
  if (fields.length !== header.length) {
    errors.push(`expected ${header.length} fields, found ${fields.length}`);
    return errors;
  }
  const values = new Map(header.map((name, index) => [name, fields[index] ?? '']));

  const phone = PhoneNumber.safeParse(values.get('phone') ?? '');
  if (!phone.success) errors.push(`phone: ${phone.error.issues[0]?.message ?? 'invalid'}`);

  const name = values.get('name') ?? '';
  if (name.length > MAX_NAME_LENGTH) errors.push(`name: longer than ${MAX_NAME_LENGTH} characters`);

  const scenarioText = values.get('scenario') ?? '';
  const scenario = scenarioText === '' ? null : SimScenario.safeParse(scenarioText);
  if (scenario !== null && !scenario.success) {
    errors.push(`scenario: "${scenarioText}" is not one of ${SimScenario.options.join(', ')}`);
  }

  const variables: Record<string, string> = {};
  for (const [column, value] of values) {
    if (KNOWN_COLUMNS.has(column)) continue;
    if (value.length > MAX_VARIABLE_LENGTH) {
      errors.push(`${column}: longer than ${MAX_VARIABLE_LENGTH} characters`);
    }
    variables[column] = value;
  }

  if (errors.length > 0 || !phone.success) return errors;
  return {
    phone: phone.data,
    name: name === '' ? null : name,
    scenario: scenario === null || !scenario.success ? null : scenario.data,
    variables,
  };
}

/** Parses a contacts CSV; raises CSV_EMPTY, CSV_INVALID or CSV_HEADER_INVALID for the file. */
export function parseContactsCsv(text: string): ParsedContacts {
  const records = readRecords(text);
  const header = readHeader(records[0]);
  const result: ParsedContacts = { contacts: [], rejected: [] };
  const phoneLines = new Map<string, number>();

  // csv-parse reports the line a record ends on; the start line is one past the previous
  // record's end, plus any blank lines skipped in between.
  let previousEnd = records[0]?.info.lines ?? 1;
  let previousEmpty = records[0]?.info.empty_lines ?? 0;
  for (const { record, info } of records.slice(1)) {
    const line = previousEnd + 1 + (info.empty_lines - previousEmpty);
    previousEnd = info.lines;
    previousEmpty = info.empty_lines;

    const row = readRow(header, record);
    if (Array.isArray(row)) {
      result.rejected.push({ line, errors: row });
      continue;
    }
    const firstLine = phoneLines.get(row.phone);
    if (firstLine !== undefined) {
      result.rejected.push({ line, errors: [`phone: ${row.phone} repeats line ${firstLine}`] });
      continue;
    }
    phoneLines.set(row.phone, line);
    result.contacts.push({ line, contact: row });
  }
  return result;
}

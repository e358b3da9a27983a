/**
 * Parses a contacts CSV: a header row with a `phone` column, optional `name` and
 * `scenario` columns, and any other column kept as a contact variable. Bad rows are
 * reported by line number and left out, and so is a row whose quoted field never closes; a
 * file without a usable header is rejected.
 */
import { PhoneNumber, SimScenario } from '@voxfleet/schema';
import { CsvError, parse } from 'csv-parse/sync';

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

/** One CSV record and the 1-based line it starts on. */
interface CsvRecord {
  fields: string[];
  line: number;
  /** Line the record ends on (a quoted field can contain line breaks). */
  end: number;
}

/** A file with more broken quotes than this is rejected whole rather than row by row. */
const MAX_BROKEN_QUOTES = 20;
/**
 * A file with more invalid rows than this is rejected whole, which keeps the response small.
 * Rows with the wrong number of fields also stop the parse early. csv-parse 6 builds an error
 * object for each, about 25 µs a row on a 2-core VM, so a 10 MB file of them would block the
 * event loop for minutes.
 */
const MAX_REJECTED_ROWS = 1000;
/** csv-parse error codes of a quote that breaks only its own row, and how each is reported. */
const QUOTE_ERRORS = new Map([
  ['CSV_QUOTE_NOT_CLOSED', 'quoted field is not closed on this line'],
  ['CSV_INVALID_CLOSING_QUOTE', 'quoted field is not closed on this line'],
  ['CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE', 'quoted field is not closed on this line'],
  [
    // csv-parse 6 names this code without the CSV_ prefix.
    'INVALID_OPENING_QUOTE',
    'quote inside an unquoted field: quote the whole field and double the quote ("")',
  ],
]);

/**
 * Parses `lines` from `first` (0-based) to the end. Records parsed before an error are
 * appended to `records` even when the parse throws, so the caller can resume after the
 * record that broke it.
 */
function parseFrom(
  lines: string[],
  first: number,
  records: CsvRecord[],
  misshapen: { count: number },
): void {
  // csv-parse reports the line a record ends on. A record starts one past the previous
  // record's end, plus any blank lines skipped in between.
  let previousEnd = 0;
  let previousEmpty = 0;
  parse(lines.slice(first).join('\n'), {
    bom: first === 0,
    skip_empty_lines: true,
    relax_column_count: true,
    trim: true,
    on_record: (fields, info) => {
      const header = records[0];
      if (header !== undefined && fields.length !== header.fields.length) {
        misshapen.count += 1;
        if (misshapen.count > MAX_REJECTED_ROWS) throw tooManyRejected(first + info.lines);
      }
      records.push({
        fields,
        line: first + previousEnd + 1 + (info.empty_lines - previousEmpty),
        end: first + info.lines,
      });
      previousEnd = info.lines;
      previousEmpty = info.empty_lines;
      return fields;
    },
  });
}

/**
 * Reads every record. A quoted field that never closes would swallow the rest of the file,
 * so its row is reported as broken and parsing starts again on the next line. So is a row
 * with a stray quote inside an unquoted field.
 */
function readRecords(text: string): { records: CsvRecord[]; broken: CsvRowError[] } {
  const lines = text.split('\n');
  const records: CsvRecord[] = [];
  const broken: CsvRowError[] = [];
  const misshapen = { count: 0 };
  let first = 0;
  for (;;) {
    const before = records.length;
    try {
      parseFrom(lines, first, records, misshapen);
      return { records, broken };
    } catch (err) {
      if (!(err instanceof CsvError)) throw err;
      const last = records.at(-1);
      const problem = QUOTE_ERRORS.get(err.code);
      if (problem === undefined || last === undefined) {
        throw new BridgeError('CSV_INVALID', `invalid CSV: ${err.message}`, { cause: err });
      }
      // The broken record starts on the first non-blank line after the last good one.
      let line = records.length > before ? last.end + 1 : first + 1;
      while (line <= lines.length && (lines[line - 1] ?? '').trim() === '') line += 1;
      if (broken.length >= MAX_BROKEN_QUOTES) {
        // csv-parse counts lines from where this pass started, so its message is not used.
        throw new BridgeError(
          'CSV_INVALID',
          `invalid CSV: more than ${MAX_BROKEN_QUOTES} rows have broken quotes, such as ` +
            `line ${line}: ${problem}`,
          { cause: err },
        );
      }
      broken.push({ line, errors: [problem] });
      first = line;
    }
  }
}
function readHeader(first: CsvRecord | undefined): string[] {
  if (first === undefined) {
    throw new BridgeError('CSV_EMPTY', 'CSV is empty: send a header row with a "phone" column');
  }
  const header = first.fields.map((name) => name.toLowerCase());
  if (!header.includes('phone')) {
    throw new BridgeError(
      'CSV_HEADER_INVALID',
      'CSV header row must contain a "phone" column, such as "phone,name,scenario"',
      { details: [{ line: first.line, message: 'no "phone" column' }] },
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
    if (name === '__proto__') {
      // Assigning it to a plain object would drop the column's values without an error.
      throw new BridgeError(
        'CSV_HEADER_INVALID',
        'CSV header row uses the reserved column name "__proto__"',
      );
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
  const { records, broken } = readRecords(text);
  const header = readHeader(records[0]);
  const result: ParsedContacts = { contacts: [], rejected: [] };
  const phoneLines = new Map<string, number>();

  for (const { fields, line } of records.slice(1)) {
    const row = readRow(header, fields);
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
  result.rejected.push(...broken);
  result.rejected.sort((a, b) => a.line - b.line);
  const last = result.rejected.at(-1);
  if (result.rejected.length > MAX_REJECTED_ROWS && last !== undefined) {
    throw tooManyRejected(last.line);
  }
  return result;
}

function tooManyRejected(line: number): BridgeError {
  return new BridgeError(
    'CSV_INVALID',
    `invalid CSV: more than ${MAX_REJECTED_ROWS} rows are invalid, such as line ${line}: ` +
      'check that the file is a contacts CSV with a "phone" column and import it again',
  );
}

/**
 * Turns the pino JSON lines of several child processes into one readable stream:
 * `15:04:05.123 worker-1   info  call attached callId=call_x botId=bot_y`.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

const LEVEL_WIDTH = 5;
const NAME_WIDTH = 12;
const OMITTED_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'service', 'version', 'hostname']);
const COLOURS: Record<string, string> = {
  trace: '\x1b[90m',
  debug: '\x1b[90m',
  info: '\x1b[32m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
  fatal: '\x1b[35m',
};
const RESET = '\x1b[0m';

export interface LogStreamOptions {
  output: Writable;
  colour: boolean;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.message === 'string' && typeof record.type === 'string') {
      return JSON.stringify(`${record.type}: ${record.message}`);
    }
    return JSON.stringify(value);
  }
  return String(value);
}

/** Formats one line; lines that are not pino JSON pass through unchanged. */
export function formatLogLine(name: string, line: string, colour: boolean): string {
  const label = name.padEnd(NAME_WIDTH);
  let entry: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error();
    entry = parsed as Record<string, unknown>;
  } catch {
    return `${' '.repeat(12)} ${label} ${line}`;
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : ''.padEnd(12);
  const level = typeof entry.level === 'string' ? entry.level : 'info';
  const paint = colour ? (COLOURS[level] ?? '') : '';
  const fields = Object.entries(entry)
    .filter(([key]) => !OMITTED_FIELDS.has(key))
    .map(([key, value]) => `${key}=${formatValue(value)}`)
    .join(' ');
  const message = typeof entry.msg === 'string' ? entry.msg : '';
  const levelText = `${paint}${level.padEnd(LEVEL_WIDTH)}${paint ? RESET : ''}`;
  return `${time} ${label} ${levelText} ${message}${fields ? ` ${fields}` : ''}`;
}

/** Copies every line of `input` to the output, formatted and labelled with `name`. */
export function pipeLogLines(name: string, input: Readable, options: LogStreamOptions): void {
  const lines = createInterface({ input, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    options.output.write(`${formatLogLine(name, line, options.colour)}\n`);
  });
}

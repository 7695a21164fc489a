// Spec-driven command-line parsing with typed results, generated --help, and errors that name the
// flag, the bad value and what would be valid.
//
//   const command = { name: 'train-mnist', summary: '…', flags: { epochs: { type: 'int', default: 10, check: positive, help: '…' } } };
//   const { flags, positionals, help } = parseArgs(process.argv.slice(2), command);   // flags.epochs: number
//   if (help) console.log(helpText(command));
//
// Accepted forms: --flag value, --flag=value, boolean --flag / --no-flag / --flag=true|false,
// -h / --help, "--" ends the flags. Numbers may be negative (--shift -1): only "--" starts a flag.
// Numbers are plain decimals (no hex, octal, binary or "Infinity"); integers must be exact in a
// double (at most 2^53 − 1). Path flags are resolved against the working directory. Faults throw
// UsageError (exit 2); a file or folder that cannot be read or written throws PathError (exit 3).
import { resolve } from 'node:path';
import { exitOnSignals } from './signals.ts';

export interface NumberCheck {
  /** Completes "must be …", e.g. "a positive number". */
  describe: string;
  test(value: number): boolean;
}

export const positive: NumberCheck = { describe: 'a positive number', test: (v) => v > 0 };
export const nonNegative: NumberCheck = { describe: 'a number ≥ 0', test: (v) => v >= 0 };
export const fraction: NumberCheck = { describe: 'in [0, 1)', test: (v) => v >= 0 && v < 1 };
export function between(min: number, max: number): NumberCheck {
  return { describe: `in [${min}, ${max}]`, test: (v) => v >= min && v <= max };
}
/** Seeds reach the GPU as u32, so a larger one would silently wrap to another seed. */
export const seedRange: NumberCheck = { describe: `in [0, ${2 ** 32 - 1}]`, test: (v) => v >= 0 && v < 2 ** 32 };

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const INTEGER = /^[+-]?\d+$/;

/**
 * A decimal number, or a reason it is not one: Number() alone would take "0x10", "0b1", "1e400"
 * (Infinity) and integers past 2^53 that it cannot hold exactly.
 */
export function parseDecimal(text: string, integer: boolean): number | string {
  const trimmed = text.trim();
  const value = Number(trimmed);
  const kind = integer ? 'an integer' : 'a number';
  if (!(integer ? INTEGER : DECIMAL).test(trimmed) || !Number.isFinite(value)) return kind;
  if (integer && !Number.isSafeInteger(value)) return `an integer within ±${Number.MAX_SAFE_INTEGER} (2^53 − 1)`;
  return value;
}

interface Documented {
  help: string;
}
export type FlagSpec = Documented &
  (
    | { type: 'int' | 'float'; default?: number; check?: NumberCheck }
    | { type: 'string' | 'path'; default?: string }
    | { type: 'bool'; default?: boolean }
    | { type: 'enum'; choices: readonly string[]; default?: string }
  );

/** The flags train-mnist and train-lm share word for word. */
export const TRAINING_OUTPUT_FLAGS = {
  overwrite: { type: 'bool', help: 'replace a checkpoint already in --out that this run did not --resume from' },
  quiet: { type: 'bool', help: 'only print the final result' },
} as const satisfies Record<string, FlagSpec>;

export interface PositionalSpec {
  name: string;
  help: string;
  required?: boolean;
}

export interface CommandSpec<Flags extends Record<string, FlagSpec>> {
  name: string;
  summary: string;
  flags: Flags;
  positionals?: readonly PositionalSpec[];
}

type ValueOf<S extends FlagSpec> = S extends { type: 'int' | 'float' }
  ? number
  : S extends { type: 'bool' }
    ? boolean
    : S extends { type: 'enum'; choices: readonly (infer Choice)[] }
      ? Choice
      : string;

/** Flags with a default (and booleans, which default to false) are always set. */
export type FlagValues<Flags extends Record<string, FlagSpec>> = {
  [K in keyof Flags]: Flags[K] extends { default: unknown } | { type: 'bool' } ? ValueOf<Flags[K]> : ValueOf<Flags[K]> | undefined;
};

export interface ParsedArgs<Flags extends Record<string, FlagSpec>> {
  flags: FlagValues<Flags>;
  positionals: string[];
  /** --help or -h was given: print helpText() instead of running. */
  help: boolean;
  /** The flags set on the command line (the rest hold their defaults). */
  given: ReadonlySet<string>;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A file or folder named by a flag that cannot be read or written. */
export class PathError extends Error {
  override name = 'PathError';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function suggestion(name: string, known: string[]): string {
  let best: string | undefined;
  let bestDistance = 3; // more than two edits away is a different word, not a typo
  for (const candidate of known) {
    const distance = candidate.startsWith(name) ? 1 : editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best ? ` (did you mean --${best}?)` : '';
}

function convert(flag: string, spec: FlagSpec, raw: string): unknown {
  const fail = (what: string) => new UsageError(`--${flag}: must be ${what}, got "${raw}"`);
  switch (spec.type) {
    case 'int':
    case 'float': {
      const value = parseDecimal(raw, spec.type === 'int');
      if (typeof value === 'string') throw fail(value);
      if (spec.check && !spec.check.test(value)) throw fail(spec.check.describe);
      return value;
    }
    case 'bool':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw fail('true or false');
    case 'enum':
      if (!spec.choices.includes(raw)) throw new UsageError(`--${flag}: "${raw}" is not one of ${spec.choices.join(', ')}`);
      return raw;
    case 'path':
      if (raw === '') throw fail('a path');
      return resolve(raw);
    case 'string':
      return raw;
  }
}

export function parseArgs<const Flags extends Record<string, FlagSpec>>(argv: readonly string[], command: CommandSpec<Flags>): ParsedArgs<Flags> {
  const specs: Record<string, FlagSpec> = command.flags;
  const names = Object.keys(specs);
  const values: Record<string, unknown> = {};
  for (const name of names) {
    const spec = specs[name]!;
    values[name] = spec.type === 'path' && spec.default !== undefined ? resolve(spec.default) : spec.default ?? (spec.type === 'bool' ? false : undefined);
  }
  const given = new Set<string>();
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (token === '-h' || token === '--help') {
      help = true;
      continue;
    }
    if (!token.startsWith('--')) {
      positionals.push(token);
      continue;
    }
    const equals = token.indexOf('=');
    let name = equals < 0 ? token.slice(2) : token.slice(2, equals);
    let inline = equals < 0 ? undefined : token.slice(equals + 1);
    if (!(name in specs) && name.startsWith('no-') && specs[name.slice(3)]?.type === 'bool' && inline === undefined) {
      name = name.slice(3);
      inline = 'false';
    }
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown flag --${name}${suggestion(name, names)}`);
    if (given.has(name)) throw new UsageError(`--${name}: given more than once`);
    given.add(name);
    if (spec.type === 'bool' && inline === undefined) {
      values[name] = true;
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`--${name}: needs a value (${describeType(spec)})`);
      raw = next;
      i++;
    }
    values[name] = convert(name, spec, raw);
  }
  const expected = command.positionals ?? [];
  if (!help) {
    if (positionals.length > expected.length) {
      const extra = positionals[expected.length]!;
      throw new UsageError(expected.length === 0 ? `unexpected argument "${extra}" (${command.name} takes only flags)` : `unexpected argument "${extra}"`);
    }
    const missing = expected.slice(positionals.length).find((p) => p.required);
    if (missing) throw new UsageError(`missing <${missing.name}>: ${missing.help}`);
  }
  return { flags: values as FlagValues<Flags>, positionals, help, given };
}

function describeType(spec: FlagSpec): string {
  switch (spec.type) {
    case 'enum':
      return `one of ${spec.choices.join(', ')}`;
    case 'int':
    case 'float':
      return spec.check ? `${spec.type === 'int' ? 'an integer' : 'a number'}, ${spec.check.describe}` : spec.type === 'int' ? 'an integer' : 'a number';
    default:
      return `a ${spec.type}`;
  }
}

export function helpText<Flags extends Record<string, FlagSpec>>(command: CommandSpec<Flags>): string {
  const positionals = command.positionals ?? [];
  const usage = [command.name, '[options]', ...positionals.map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`))].join(' ');
  const rows: Array<[string, string]> = positionals.map((p) => [`<${p.name}>`, p.help]);
  for (const [name, spec] of Object.entries(command.flags) as Array<[string, FlagSpec]>) {
    const placeholder = spec.type === 'bool' ? '' : spec.type === 'enum' ? ` <${spec.choices.join('|')}>` : ` <${spec.type}>`;
    const notes: string[] = [];
    if ((spec.type === 'int' || spec.type === 'float') && spec.check) notes.push(spec.check.describe);
    if (spec.default !== undefined) notes.push(`default: ${spec.default}`);
    rows.push([`--${name}${placeholder}`, notes.length ? `${spec.help} (${notes.join('; ')})` : spec.help]);
  }
  rows.push(['-h, --help', 'show this help']);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [`Usage: ${usage}`, '', command.summary, '', 'Options:', ...rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`), ''].join('\n');
}

/**
 * A script's whole life: parse the flags, print --help, run `main`, exit with its code. A
 * UsageError exits 2, a PathError 3 and any other error 1, each printed after the command's name;
 * SIGINT / SIGTERM exit 130 / 143 at once unless `main` is inside `stopAfterStepOnSignal`.
 */
export function runCommand<const Flags extends Record<string, FlagSpec>>(command: CommandSpec<Flags>,
  main: (args: ParsedArgs<Flags>) => Promise<number>, argv: readonly string[] = process.argv.slice(2)): void {
  exitOnSignals(command.name);
  const run = async (): Promise<number> => {
    const args = parseArgs(argv, command);
    if (!args.help) return main(args);
    console.log(helpText(command));
    return 0;
  };
  run().then((code) => process.exit(code), (error: unknown) => {
    console.error(`${command.name}: ${error instanceof Error ? error.message : String(error)}`);
    if (error instanceof UsageError) console.error('Run with --help for the flags.');
    process.exit(error instanceof UsageError ? 2 : error instanceof PathError ? 3 : 1);
  });
}

// CSV files as f32 feature rows and targets: a header row names the columns, every other row is
// numbers. Quoted fields ("a,b", "say ""hi""") and CRLF line ends are read; every error names the
// file, the line and the column.
import { readFile } from 'node:fs/promises';
import type { FieldData } from '../runtime/dataset.ts';

export interface CsvOptions {
  /** The target column, or several (one f32 target per column, in this order). */
  target: string | readonly string[];
  /** The feature columns, in this order (default: every column that is not a target). */
  features?: readonly string[];
  /** One character between fields (default ','). */
  delimiter?: string;
}

export interface CsvData {
  /** [rows, features] f32. */
  x: FieldData & { data: Float32Array };
  /** [rows, targets] f32, one column per target (so one target fits a model output of [1]). */
  y: FieldData & { data: Float32Array };
  featureNames: string[];
  targetNames: string[];
}

interface Row { line: number; cells: string[] }

/** Splits text into rows of raw cells, each with the line it starts on; blank lines are skipped. */
function splitRows(text: string, delimiter: string, source: string): Row[] {
  const rows: Row[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let touched = false;
  const endRow = () => {
    if (touched || cells.length) rows.push({ line: rowLine, cells: [...cells, cell] });
    cells = []; cell = ''; touched = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else { if (c === '\n') line++; cell += c; }
      continue;
    }
    if (c === '"' && cell.trim() === '') { quoted = true; cell = ''; touched = true; }
    else if (c === delimiter) { cells.push(cell); cell = ''; touched = true; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      cell += c;
      if (c.trim() !== '') touched = true;
    }
  }
  if (quoted) throw new Error(`${source} line ${rowLine}: a quoted field is never closed`);
  endRow();
  return rows;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses CSV text (named `source` in errors) into f32 features and targets. */
export function parseCsv(text: string, source: string, options: CsvOptions): CsvData {
  const delimiter = options.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') throw new Error(`${source}: delimiter must be one character other than a quote or a line end, got ${JSON.stringify(delimiter)}`);
  const rows = splitRows(text.replace(/^\uFEFF/, ''), delimiter, source);
  if (rows.length === 0) throw new Error(`${source} is empty: it needs a header row and at least one row of numbers`);
  const header = rows[0]!.cells.map((h) => h.trim());
  const seen = new Set<string>();
  header.forEach((name, i) => {
    if (!name) throw new Error(`${source} line ${rows[0]!.line}: column ${i + 1} of the header has no name`);
    if (seen.has(name)) throw new Error(`${source} line ${rows[0]!.line}: two columns are named "${name}"`);
    seen.add(name);
  });
  if (rows.length === 1) throw new Error(`${source} has a header but no rows of numbers`);
  const targetNames = typeof options.target === 'string' ? [options.target] : [...options.target];
  if (targetNames.length === 0) throw new Error(`${source}: name at least one target column`);
  const column = (name: string, role: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`${source}: no column "${name}" for the ${role} (its columns: ${header.join(', ')})`);
    return i;
  };
  const targetColumns = targetNames.map((n) => column(n, 'target'));
  const featureNames = options.features ? [...options.features] : header.filter((h) => !targetNames.includes(h));
  const featureColumns = featureNames.map((n) => column(n, 'features'));
  const overlap = featureNames.filter((n) => targetNames.includes(n));
  if (overlap.length) throw new Error(`${source}: column ${overlap.join(', ')} is both a feature and a target`);
  if (featureNames.length === 0) throw new Error(`${source}: no feature columns are left besides the target`);
  const count = rows.length - 1;
  const x = new Float32Array(count * featureNames.length);
  const y = new Float32Array(count * targetNames.length);
  for (let r = 0; r < count; r++) {
    const { line, cells } = rows[r + 1]!;
    if (cells.length !== header.length) throw new Error(`${source} line ${line}: ${cells.length} values, but the header has ${header.length} columns`);
    const value = (c: number): number => {
      const raw = cells[c]!.trim();
      if (!NUMBER.test(raw)) throw new Error(`${source} line ${line}, column ${c + 1} ("${header[c]}"): ${raw === '' ? 'the value is missing' : `${JSON.stringify(raw)} is not a number`}`);
      return Number(raw);
    };
    featureColumns.forEach((c, i) => { x[r * featureNames.length + i] = value(c); });
    targetColumns.forEach((c, i) => { y[r * targetNames.length + i] = value(c); });
  }
  return {
    x: { data: x, shape: [count, featureNames.length] },
    y: { data: y, shape: [count, targetNames.length] },
    featureNames, targetNames,
  };
}

/** Reads a CSV file: see parseCsv. */
export async function readCsv(path: string, options: CsvOptions): Promise<CsvData> {
  return parseCsv(await readFile(path, 'utf8'), path, options);
}

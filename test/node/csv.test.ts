import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCsv, readCsv } from '../../src/node/csv.ts';

describe('parseCsv', () => {
  it('reads features and one target by name, in header order', () => {
    const csv = parseCsv('a,b,price,c\n1,2,3,4\n-1.5,2e3,.25,+7\n', 'f.csv', { target: 'price' });
    expect(csv.featureNames).toEqual(['a', 'b', 'c']);
    expect(csv.targetNames).toEqual(['price']);
    expect(csv.x.shape).toEqual([2, 3]);
    expect(Array.from(csv.x.data)).toEqual([1, 2, 4, -1.5, 2000, 7]);
    expect(csv.y.shape).toEqual([2, 1]);
    expect(Array.from(csv.y.data)).toEqual([3, 0.25]);
  });

  it('takes several targets, chosen features, quotes, CRLF, a byte-order mark, spaces and blank lines', () => {
    const text = '\uFEFF"x 1", x2 ,t1,t2\r\n"1",2,3,4\r\n\r\n 5 , "6" ,7,8\r\n';
    const csv = parseCsv(text, 'f.csv', { target: ['t2', 't1'], features: ['x2'] });
    expect(Array.from(csv.x.data)).toEqual([2, 6]);
    expect(csv.y.shape).toEqual([2, 2]);
    expect(Array.from(csv.y.data)).toEqual([4, 3, 8, 7]);
    expect(parseCsv('a;b\n1;2\n', 'f.csv', { target: 'b', delimiter: ';' }).x.data[0]).toBe(1);
  });

  it('names the file, line and column of a value that is not a number, or is missing', () => {
    expect(() => parseCsv('a,b\n1,2\n3,abc\n', 'f.csv', { target: 'b' })).toThrow('f.csv line 3, column 2 ("b"): "abc" is not a number');
    expect(() => parseCsv('a,b\n1,\n', 'f.csv', { target: 'b' })).toThrow('f.csv line 2, column 2 ("b"): the value is missing');
    // A quoted field spanning two lines moves the line count on: the bad value is on line 4.
    expect(() => parseCsv('a,b\n"1\n",2\n1,x\n', 'f.csv', { target: 'b' })).toThrow('f.csv line 4, column 2 ("b"): "x" is not a number');
    expect(() => parseCsv('a,b\n"1\n1",2\n', 'f.csv', { target: 'b' })).toThrow('f.csv line 2, column 1 ("a"): "1\\n1" is not a number');
    expect(() => parseCsv('a,b\n1,2\n1,x\n', 'f.csv', { target: 'a' })).toThrow('f.csv line 3, column 2 ("b")');
  });

  it('refuses a ragged row, a missing target column, an empty file and a header without rows', () => {
    expect(() => parseCsv('a,b,c\n1,2,3\n4,5\n', 'f.csv', { target: 'c' })).toThrow('f.csv line 3: 2 values, but the header has 3 columns');
    expect(() => parseCsv('a,b\n1,2\n', 'f.csv', { target: 'price' })).toThrow('f.csv: no column "price" for the target (its columns: a, b)');
    expect(() => parseCsv('', 'f.csv', { target: 'a' })).toThrow('f.csv is empty');
    expect(() => parseCsv('\n\n', 'f.csv', { target: 'a' })).toThrow('f.csv is empty');
    expect(() => parseCsv('a,b\n', 'f.csv', { target: 'a' })).toThrow('f.csv has a header but no rows of numbers');
    expect(() => parseCsv('a,a\n1,2\n', 'f.csv', { target: 'a' })).toThrow('two columns are named "a"');
    expect(() => parseCsv('a,b\n"1,2\n', 'f.csv', { target: 'a' })).toThrow('f.csv line 2: a quoted field is never closed');
    expect(() => parseCsv('a,b\n1,2\n', 'f.csv', { target: 'a', features: ['a'] })).toThrow('column a is both a feature and a target');
  });

  it('readCsv reads a file and names it in errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webgrad-csv-'));
    const path = join(dir, 'data.csv');
    writeFileSync(path, 'x,y\n1,2\n3,4\n');
    expect(Array.from((await readCsv(path, { target: 'y' })).y.data)).toEqual([2, 4]);
    writeFileSync(path, 'x,y\n1,?\n');
    await expect(readCsv(path, { target: 'y' })).rejects.toThrow(`${path} line 2, column 2 ("y"): "?" is not a number`);
  });
});

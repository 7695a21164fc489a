// bench/device-check.sh refuses what it does not know before it starts anything, naming the flag.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';

const root = new URL('../..', import.meta.url).pathname;
const check = (args: string[]) => {
  const run = spawnSync('bash', ['bench/device-check.sh', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
};

describe('bench/device-check.sh', () => {
  it.each([
    [['--steps', 'adapter,bogus'], /--steps: "bogus" is not one of adapter, repro, tests, gemm, conv-implicit, train-step, time-to-99/],
    [['--fast'], /unknown argument --fast/],
    [['--out'], /--out needs a folder/],
  ])('%j is refused with exit 2', (args, message) => {
    const { code, out } = check(args);
    expect(out).toMatch(message);
    expect(code).toBe(2);
  });

  it('--help prints the usage', () => {
    const { code, out } = check(['--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/bash bench\/device-check\.sh \[--quick\] \[--out DIR\]/);
  });
});

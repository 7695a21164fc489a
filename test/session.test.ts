// The Session owns the run's setup: GEMM is tuned before its first program compiles, and no entry
// point (scripts, examples, bench, the browser worker) tunes by hand any more.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGpu } from '../src/gpu/device.ts';
import { gemmTuned } from '../src/kernels/gemm.ts';
import { Session } from '../src/runtime/session.ts';
import { Dense, Flatten } from '../src/layers/layers.ts';
import { Sequential } from '../src/model/model.ts';
import { range } from '../src/runtime/dataset.ts';

const root = new URL('..', import.meta.url).pathname;

describe('Session', () => {
  it('tunes GEMM before its first Trainer compiles, then trains and evaluates on uploaded tensors', async () => {
    const gpu = await createGpu();
    expect(gemmTuned(gpu)).toBe(false);
    let tunedWhenAsked: boolean | undefined;
    const session = await Session.create({ gpu, onTuning: (g) => { tunedWhenAsked = gemmTuned(g); } });
    expect(tunedWhenAsked).toBe(false);
    expect(gemmTuned(session.gpu)).toBe(true);
    const count = 37;
    const x = new Float32Array(count * 6).map((_, i) => Math.sin(i * 0.7));
    const y = Uint32Array.from({ length: count }, (_, i) => (x[i * 6]! > 0 ? 1 : 0));
    const data = session.uploadTensors({ x: { data: x, shape: [count, 6] }, y: { data: y, shape: [count] } }, 'toy');
    const model = new Sequential([6], [new Flatten(), new Dense({ units: 2 })]);
    const state = session.state(model, model.initialValues(3));
    const trainer = session.trainer(model, state, data, { batchSize: 8, seed: 1, optimizer: { kind: 'adam', lr: 0.05 }, stepsPerEpoch: 5, totalSteps: 40 });
    for (let i = 0; i < 40; i++) await trainer.step(range(0, 37).subarray((i % 4) * 8, (i % 4) * 8 + 8));
    const evaluation = await session.evaluator(model, state, data, 16).evaluate(range(0, count));
    expect(evaluation.rows).toBe(count);
    expect(evaluation.accuracy).toBeGreaterThan(0.8);
    const outputs = await session.predict(model, state, { data: x, shape: [count, 6] });
    expect(outputs.length).toBe(count * 2);
    trainer.destroy();
    state.destroy();
    session.destroyDataset(data);
    session.destroy();
  });

  it('is the only place entry points tune GEMM', () => {
    const offenders: string[] = [];
    for (const dir of ['scripts', 'examples', 'web']) {
      for (const file of readdirSync(join(root, dir), { recursive: true }) as string[]) {
        if (!file.endsWith('.ts')) continue;
        if (/\btuneGemm\(/.test(readFileSync(join(root, dir, file), 'utf8'))) offenders.push(`${dir}/${file}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

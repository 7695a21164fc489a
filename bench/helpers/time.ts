// Timing recorded dispatches the way the executor replays them: many runs in one submit, best of
// several trials (the machine is shared, so the minimum is the least noisy estimate).
import { writeFileSync } from 'node:fs';
import { encodeDispatches, type Dispatch, type Gpu } from 'webgrad';

/** Best-of-`trials` milliseconds per run of `dispatches`, each trial `reps` runs in one submit. */
export async function timeDispatches(gpu: Gpu, dispatches: readonly Dispatch[], reps = 10, trials = 5): Promise<number> {
  const once = async (count: number): Promise<number> => {
    const encoder = gpu.device.createCommandEncoder();
    for (let r = 0; r < count; r++) encodeDispatches(encoder, dispatches);
    const start = performance.now();
    gpu.device.queue.submit([encoder.finish()]);
    await gpu.guard(gpu.device.queue.onSubmittedWorkDone());
    return (performance.now() - start) / count;
  };
  await once(1); // compiles the pipelines and warms the caches
  let best = Infinity;
  for (let t = 0; t < trials; t++) best = Math.min(best, await once(reps));
  return best;
}

export interface Comparison {
  case: string; webgradMs: number; tfjsMs: number;
  /** Where webgradMs is a fused kernel: the same result composed from webgrad's unfused kernels. */
  composedMs?: number;
  /** Bytes the fused and the composed path need beyond their inputs and outputs. */
  fusedBytes?: number; composedBytes?: number;
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

/** Prints a webgrad-vs-TF.js table and writes it to bench/results/<op>.json with its command. */
export function reportComparison(op: string, gpu: Gpu, tfjsAdapter: string, rows: Comparison[]): void {
  console.log(`webgrad: ${gpu.describe()}\nTF.js:   ${tfjsAdapter}\nbest of several trials, ms per call; the machine is shared, so expect noise`);
  for (const r of rows) {
    const composed = r.composedMs === undefined ? '' : `   webgrad composed ${r.composedMs.toFixed(3).padStart(8)} (fused ${(r.composedMs / r.webgradMs).toFixed(2)}×)`;
    const memory = r.fusedBytes === undefined || r.composedBytes === undefined ? '' : `   memory fused ${kib(r.fusedBytes)} / composed ${kib(r.composedBytes)}`;
    console.log(`  ${r.case.padEnd(44)} webgrad ${r.webgradMs.toFixed(3).padStart(8)}   TF.js ${r.tfjsMs.toFixed(3).padStart(8)}   ${(r.tfjsMs / r.webgradMs).toFixed(1).padStart(5)}×${composed}${memory}`);
  }
  const record = { webgradAdapter: gpu.describe(), tfjsAdapter, command: `npx tsx bench/${op}.ts`, date: new Date().toISOString(), results: rows };
  writeFileSync(new URL(`../results/${op}.json`, import.meta.url), `${JSON.stringify(record, null, 2)}\n`);
}

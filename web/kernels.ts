// The kernel-checks page: runs runKernelChecks on the main thread's WebGPU and lists pass/fail.
// window.webgradKernelChecks holds the results for the end-to-end test.
import { runKernelChecks, type CheckResult } from './kernel-checks.ts';
import { createGpu } from 'webgrad';

declare global {
  interface Window {
    webgradKernelChecks: {
      done: boolean; results: CheckResult[]; error: string | null;
      /** The adapter, and whether its device has `subgroups` (the subgroup variants run only then). */
      adapter: string | null; subgroups: boolean | null; subgroupSizes: { min: number; max: number } | null;
    };
  }
}

const state: Window['webgradKernelChecks'] = { done: false, results: [], error: null, adapter: null, subgroups: null, subgroupSizes: null };
window.webgradKernelChecks = state;
const summary = document.getElementById('summary')!;

async function main(): Promise<void> {
  const gpu = await createGpu();
  state.adapter = gpu.describe();
  state.subgroups = gpu.hasSubgroups();
  state.subgroupSizes = gpu.adapter.subgroupSizes ?? null;
  const sizes = state.subgroupSizes ? ` (sizes ${state.subgroupSizes.min}–${state.subgroupSizes.max})` : '';
  document.getElementById('adapter')!.textContent = `adapter: ${state.adapter}; subgroups: ${state.subgroups ? `yes${sizes}` : 'no, so the subgroup variants are not run'}`;
  state.results = await runKernelChecks(gpu);
  const rows = state.results.map((r) => {
    const row = document.createElement('tr');
    row.innerHTML = `<td class="${r.pass ? 'pass' : 'fail'}">${r.pass ? 'pass' : 'FAIL'}</td><td></td><td></td>`;
    row.children[1]!.textContent = r.name;
    row.children[2]!.textContent = r.detail;
    return row;
  });
  document.getElementById('results')!.replaceChildren(...rows);
  const failed = state.results.filter((r) => !r.pass).length;
  summary.textContent = failed ? `${failed} of ${state.results.length} checks FAILED` : `all ${state.results.length} checks passed`;
  summary.className = failed ? 'fail' : 'pass';
  gpu.destroy();
}

main().catch((error: unknown) => {
  state.error = error instanceof Error ? error.message : String(error);
  summary.textContent = state.error;
  summary.className = 'fail';
}).finally(() => { state.done = true; });

// Static memory planning: temp tensors whose lifetimes (first to last op touching them) do not
// overlap share one buffer. Greedy over the op schedule with best-fit reuse of freed slots.
import { elementCount, type Graph, type Op } from '../graph/graph.ts';

export interface MemoryPlan {
  /** Slot index for every planned temp root tensor. */
  slotOf: Map<number, number>;
  slotBytes: number[];
  /** Bytes of all temp tensors if each had its own buffer. */
  activationBytes: number;
  /** Bytes actually allocated for temps. */
  peakBytes: number;
}

export const tensorBytes = (graph: Graph, tensor: number): number =>
  Math.max(4, elementCount(graph.shape(tensor)) * 4);

export function planMemory(graph: Graph, schedule: readonly Op[]): MemoryPlan {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const bytes = new Map<number, number>();
  schedule.forEach((op, index) => {
    for (const t of [...op.reads, ...op.writes]) {
      const info = graph.info(t);
      if (info.role !== 'temp') continue;
      const root = info.root;
      if (!first.has(root)) first.set(root, index);
      last.set(root, index);
      bytes.set(root, Math.max(bytes.get(root) ?? 0, tensorBytes(graph, root)));
    }
  });
  const startingAt = new Map<number, number[]>();
  const endingAt = new Map<number, number[]>();
  for (const [root, index] of first) startingAt.set(index, [...(startingAt.get(index) ?? []), root]);
  for (const [root, index] of last) endingAt.set(index, [...(endingAt.get(index) ?? []), root]);

  const slotBytes: number[] = [];
  const free = new Set<number>();
  const slotOf = new Map<number, number>();
  for (let i = 0; i < schedule.length; i++) {
    for (const root of startingAt.get(i) ?? []) {
      const need = bytes.get(root)!;
      let best = -1;
      for (const slot of free) {
        // Prefer the smallest slot that fits; otherwise grow the largest free one.
        const size = slotBytes[slot]!;
        const current = best < 0 ? undefined : slotBytes[best]!;
        if (current === undefined) best = slot;
        else if (size >= need ? current < need || size < current : current < need && size > current) best = slot;
      }
      if (best < 0) {
        best = slotBytes.length;
        slotBytes.push(need);
      } else {
        free.delete(best);
        slotBytes[best] = Math.max(slotBytes[best]!, need);
      }
      slotOf.set(root, best);
    }
    for (const root of endingAt.get(i) ?? []) free.add(slotOf.get(root)!);
  }
  let activationBytes = 0;
  for (const b of bytes.values()) activationBytes += b;
  return { slotOf, slotBytes, activationBytes, peakBytes: slotBytes.reduce((a, b) => a + b, 0) };
}

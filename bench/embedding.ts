// Token embedding of batch·T = 4096 ids from a character vocabulary (65 × 128) and a larger one
// (1024 × 128): webgrad's gather and bucketed gradient against TensorFlow.js WebGPU's gather
// and unsortedSegmentSum (its gather gradient) on the same adapter. `npx tsx bench/embedding.ts`.
import { randomArray, rng } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import { createGpu, storageBuffer, uploadBuffer, embeddingBackward, embeddingForward, embeddingScratchWords, type EmbeddingShape } from 'webgrad';

const SHAPES: EmbeddingShape[] = [{ tokens: 4096, vocab: 65, width: 128 }, { tokens: 4096, vocab: 1024, width: 128 }];

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
for (const s of SHAPES) {
  const next = rng(7);
  const ids = Uint32Array.from({ length: s.tokens }, () => Math.floor(next() * s.vocab));
  const table = randomArray(s.vocab * s.width, 1), dOutValues = randomArray(s.tokens * s.width, 2);
  const idsBuffer = uploadBuffer(gpu, ids, 'ids'), tableBuffer = uploadBuffer(gpu, table, 'table'), dOut = uploadBuffer(gpu, dOutValues, 'dOut');
  const out = storageBuffer(gpu, s.tokens * s.width * 4, 'out'), dTable = storageBuffer(gpu, s.vocab * s.width * 4, 'dTable');
  const scratch = storageBuffer(gpu, embeddingScratchWords(s) * 4, 'scratch');
  const tids = tf.tensor1d(Int32Array.from(ids), 'int32'), ttable = tf.tensor2d(table, [s.vocab, s.width]), tdOut = tf.tensor2d(dOutValues, [s.tokens, s.width]);
  const name = `${s.tokens} ids, vocab ${s.vocab} × ${s.width}`;
  rows.push({ case: `forward, ${name}`, webgradMs: await timeDispatches(gpu, embeddingForward(gpu, s, { ids: idsBuffer, table: tableBuffer, out })), tfjsMs: await timeTfjs(() => tf.gather(ttable, tids), 10) });
  rows.push({ case: `backward, ${name}`, webgradMs: await timeDispatches(gpu, embeddingBackward(gpu, s, { ids: idsBuffer, dOut, dTable, scratch })), tfjsMs: await timeTfjs(() => tf.unsortedSegmentSum(tdOut, tids, s.vocab), 10) });
  for (const b of [idsBuffer, tableBuffer, dOut, out, dTable, scratch]) gpu.destroyBuffer(b);
  tf.dispose([tids, ttable, tdOut]);
}
reportComparison('embedding', gpu, adapter, rows);
gpu.destroy();

// Reads a gpt's options back from a Model: code that runs a gpt by hand (the KV-cache decoder) must
// know the model is exactly what gptModel draws, since it replays that graph with its own kernels.
// The options are inferred from the input and the parameters, gptModel is drawn again with them,
// and the two graphs must match node for node.
import { formatShape } from '../graph/graph.ts';
import { ScaledDotProductAttention } from '../layers/transformer.ts';
import { TiedDense } from '../layers/tokens.ts';
import type { SymbolicTensor } from '../layers/layer.ts';
import { gptModel, type GptOptions } from './gpt.ts';
import type { Model } from './model.ts';

/**
 * Each node as text: its layer's config (the name kept only where the layer owns parameters, whose
 * names must match; parameter-free layers may be named anything) and which earlier nodes it reads.
 */
function nodeSignatures(model: Model): string[] {
  const index = new Map<SymbolicTensor, string>(model.inputs.map((t, i) => [t, `input ${i}`]));
  model.nodes.forEach((node, i) => index.set(node.output, `node ${i}`));
  return model.nodes.map((node) => {
    const { name, ...options } = node.layer.config();
    const owns = model.plan.find((p) => p.layer === node.layer)!.params.length > 0;
    return JSON.stringify({ ...options, ...(owns ? { name } : {}), inputs: node.inputs.map((t) => index.get(t)) });
  });
}

/** The options gptModel would need to draw `model`; anything else is refused with the first difference. */
export function gptOptionsOf(model: Model, who: string): GptOptions {
  const fail = (why: string) => new Error(`${who}: the model is not a gpt as gptModel draws it: ${why}`);
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw fail(`it has ${model.inputs.length} inputs and ${model.outputs.length} outputs, a gpt one of each`);
  const ids = model.inputs[0]!;
  if (ids.dtype !== 'u32' || ids.shape.length !== 1) throw fail(`its input is ${ids.dtype} ${formatShape(ids.shape)}, a gpt's is u32 token ids [context]`);
  const specs = model.parameterSpecs();
  const table = specs.find((s) => s.name === 'transformer.wte.weight');
  if (!table || table.shape.length !== 2) throw fail('it has no token embedding transformer.wte.weight [vocab, width]');
  const attention = model.plan.find((p) => p.layer instanceof ScaledDotProductAttention);
  if (!attention) throw fail('it has no attention layer');
  const options: GptOptions = {
    vocab: table.shape[0]!, width: table.shape[1]!, context: ids.shape[0]!,
    layers: specs.filter((s) => /^transformer\.h\.\d+\.ln_1\.weight$/.test(s.name)).length,
    heads: attention.input[0]!,
    ...(model.layers.some((layer) => layer instanceof TiedDense) ? { tieWeights: true } : {}),
  };
  let drawn: Model;
  try {
    drawn = gptModel(options);
  } catch (error) {
    throw fail((error as Error).message);
  }
  const [given, expected] = [nodeSignatures(model), nodeSignatures(drawn)];
  const differs = expected.findIndex((signature, i) => signature !== given[i]);
  if (differs >= 0 || given.length !== expected.length) {
    const at = differs >= 0 ? differs : Math.min(given.length, expected.length);
    const node = model.nodes[at];
    throw fail(`gptModel(${JSON.stringify(options)}) has ${expected.length} nodes and this model ${given.length}; they first differ at node ${at} (${node ? `layer ${node.layer.name}, ${node.layer.describe()}` : 'past the model\'s last node'})`);
  }
  if (model.outputs[0] !== model.nodes.at(-1)!.output) throw fail('its output is not its last node');
  return options;
}

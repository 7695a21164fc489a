// Generates text from a trained gpt checkpoint: the prompt is encoded with the tokenizer saved in the
// checkpoint, each new token is sampled (greedy at temperature 0, else softmax at that temperature
// over the top-k tokens, from a seeded RNG so a seed repeats its text) and printed as it arrives.
// stdout is the prompt and the text; the adapter and the tokens/s go to stderr.
//
//   node --import tsx scripts/generate.ts --ckpt runs/lm-moby-dick/checkpoint.safetensors --prompt "Call me" --tokens 200
//   node --import tsx scripts/generate.ts --ckpt … --temperature 0.8 --top-k 10 --seed 3
//   node --import tsx scripts/generate.ts --ckpt … --no-cache      recompute the whole window per token
import { Session, gptOptionsOf, ModelState, KvCacheDecoder, FullWindowDecoder, generateTokens, textStream, type NextTokenModel } from 'webgrad';
import { readModel, nonNegative, positive, seedRange, runCommand, UsageError, type ParsedArgs } from 'webgrad/node';

const command = {
  name: 'generate',
  summary: 'Generates text from a gpt checkpoint (one with its tokenizer), decoding incrementally with a key/value cache on the GPU.',
  flags: {
    ckpt: { type: 'path', help: 'a gpt checkpoint that holds its tokenizer (a .safetensors file)' },
    prompt: { type: 'string', help: 'the text to continue, a newline when not given; every character must be in the checkpoint\'s vocabulary' },
    tokens: { type: 'int', default: 200, check: positive, help: 'tokens to generate' },
    temperature: { type: 'float', default: 1, check: nonNegative, help: '0 picks the most likely token each time; 1 samples the model\'s distribution' },
    'top-k': { type: 'int', check: positive, help: 'sample only among the k most likely tokens, all of them when not given' },
    seed: { type: 'int', default: 1, check: seedRange, help: 'the sampling seed; the same seed repeats the same text' },
    cache: { type: 'bool', default: true, help: 'decode with the key/value cache; --no-cache recomputes the whole window per token with the full forward program' },
  },
} as const;

async function main({ flags: o }: ParsedArgs<typeof command.flags>): Promise<number> {
  if (!o.ckpt) throw new UsageError('--ckpt: needs the checkpoint to generate from');
  const promptText = o.prompt ?? '\n';
  if (promptText.length === 0) throw new UsageError('--prompt: must hold at least one character to continue from');
  const { model, weights, tokenizer } = await readModel(o.ckpt);
  // Checked before the GPU starts, so an image checkpoint is refused at once and by what it is.
  gptOptionsOf(model, o.ckpt);
  if (!tokenizer) throw new Error(`${o.ckpt}: the checkpoint holds no tokenizer (metadata key "tokenizer"), so its ids cannot be turned into text; save it with encodeCheckpoint(state, { …, tokenizer: tokenizer.describe() })`);
  let prompt: Uint32Array;
  try {
    prompt = tokenizer.encode(promptText);
  } catch (error) {
    throw new UsageError(`--prompt: ${(error as Error).message}`);
  }

  // The session tunes GEMM for this adapter before anything compiles (the recorded passes bake in the variant).
  const { gpu } = await Session.create();
  console.error(`adapter: ${gpu.describe()}`);
  const state = new ModelState(gpu, model, weights);
  const decoder: NextTokenModel = o.cache ? new KvCacheDecoder(gpu, state) : new FullWindowDecoder(gpu, state);
  const { layers, heads, width, context, vocab } = decoder.options;
  console.error(`gpt ${layers} layers × ${heads} heads × width ${width}, context ${context}, vocab ${vocab}; ${o.cache ? 'KV cache' : 'no cache: the whole window recomputed per token'}`);

  const text = textStream(tokenizer);
  process.stdout.write(promptText);
  const started = performance.now();
  await generateTokens(decoder, prompt, {
    tokens: o.tokens, temperature: o.temperature, seed: o.seed, ...(o['top-k'] === undefined ? {} : { topK: o['top-k'] }),
    onToken: (id) => { process.stdout.write(text.push(id)); },
  });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${text.end()}\n`);
  console.error(`${o.tokens} tokens in ${seconds.toFixed(2)} s: ${(o.tokens / seconds).toFixed(1)} tokens/s (prompt of ${prompt.length} tokens included in the time)`);
  decoder.destroy();
  state.destroy();
  gpu.destroy();
  return 0;
}

runCommand(command, main);

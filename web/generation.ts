// Text generation in the demo's worker: the gpt checkpoint the user picked is rebuilt with its
// tokenizer and continued with the KV-cache decoder, each token's text posted as it is sampled. The
// same library code as scripts/generate.ts.
import { generateTokens, gptOptionsOf, KvCacheDecoder, loadModel, ModelState, textStream, type Gpu } from 'webgrad';
import type { FromWorker, GenerateRequest } from './protocol.ts';

export async function generateText(gpu: Gpu, request: GenerateRequest, post: (message: FromWorker) => void): Promise<void> {
  const { model, weights, tokenizer } = await loadModel(request.bytes, request.name);
  gptOptionsOf(model, request.name);
  if (!tokenizer) throw new Error(`${request.name}: the checkpoint holds no tokenizer, so its ids cannot be turned into text`);
  if (request.prompt.length === 0) throw new Error('the prompt is empty: give at least one character to continue from');
  const prompt = tokenizer.encode(request.prompt);
  const state = new ModelState(gpu, model, weights);
  const decoder = new KvCacheDecoder(gpu, state);
  try {
    const text = textStream(tokenizer);
    post({ type: 'text', text: request.prompt });
    const started = performance.now();
    await generateTokens(decoder, prompt, {
      tokens: request.tokens, temperature: request.temperature, seed: request.seed, ...(request.topK === undefined ? {} : { topK: request.topK }),
      onToken: (id) => post({ type: 'text', text: text.push(id) }),
    });
    post({ type: 'text', text: text.end() });
    post({ type: 'generated', tokens: request.tokens, tokensPerSecond: (request.tokens * 1000) / (performance.now() - started) });
  } finally {
    decoder.destroy();
    state.destroy();
  }
}

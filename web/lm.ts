// The language-model page: text box, config form, live loss chart, generation and save/load. All GPU
// work happens in lm-worker.ts. Query parameters preset the forms (?layers=1&heads=1&width=16
// &context=16&steps=20&batch=8&lr=0.003&prompt=…&characters=40&temperature=0.8&topK=0&seed=1),
// ?every=10 sets how many steps each chart point averages, and ?autostart=1 trains as soon as the
// text is in (the end-to-end test uses them).
import { download } from './download.ts';
import { drawLossChart, type LossPoint } from './chart.ts';
import type { LmFromWorker, LmToWorker, LmTrainRequest } from './lm-protocol.ts';

/** What the page has done so far, for people in the console and for the end-to-end test. */
interface LmPageState {
  status: 'starting' | 'training' | 'trained' | 'generating' | 'generated' | 'loaded' | 'error';
  adapter: string;
  steps: number[];
  trainLosses: number[];
  heldOutLosses: number[];
  tokensPerSecond: number | null;
  generated: string;
  generateTokensPerSecond: number | null;
  loaded: string | null;
  error: string | null;
}

declare global {
  interface Window { webgradLm: LmPageState }
}

const lm: LmPageState = {
  status: 'starting', adapter: '', steps: [], trainLosses: [], heldOutLosses: [], tokensPerSecond: null,
  generated: '', generateTokensPerSecond: null, loaded: null, error: null,
};
window.webgradLm = lm;

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`lm.html has no #${id}`);
  return element as T;
};
const trainForm = $<HTMLFormElement>('train-form');
const generateForm = $<HTMLFormElement>('generate-form');
const textBox = $<HTMLTextAreaElement>('text');
const chart = $<HTMLCanvasElement>('chart');
const worker = new Worker(new URL('./lm-worker.ts', import.meta.url), { type: 'module' });
const send = (message: LmToWorker, transfer: Transferable[] = []): void => worker.postMessage(message, transfer);
const query = new URLSearchParams(location.search);
let chartPoints: LossPoint[] = [];
let totalSteps = 1;
/** A model trained or loaded: generating and saving have something to work on. */
let modelReady = false;

const setStatus = (text: string): void => { $('status').textContent = text; };
const setBusy = (busy: boolean): void => {
  for (const id of ['train', 'generate', 'save']) $<HTMLButtonElement>(id).disabled = busy || (id !== 'train' && !modelReady);
};

function showError(message: string, noWebGpu: boolean): void {
  Object.assign(lm, { status: 'error', error: message });
  const box = $('error');
  box.hidden = false;
  box.textContent = noWebGpu ? `This browser has no usable WebGPU. ${message}` : `Error: ${message}`;
  setStatus('stopped');
  setBusy(false);
}

function showTextSize(): void {
  $('text-size').textContent = `${[...textBox.value].length} characters`;
}

// ---- training ----

function readTrainForm(): LmTrainRequest {
  const data = new FormData(trainForm);
  const whole = (name: string) => Math.max(1, Math.floor(Number(data.get(name))));
  return {
    type: 'train', text: textBox.value, layers: whole('layers'), heads: whole('heads'), width: whole('width'), context: whole('context'),
    steps: whole('steps'), batchSize: whole('batch'), lr: Number(data.get('lr')), every: Math.max(1, Number(query.get('every') ?? 10)), seed: 1,
  };
}

function startTraining(): void {
  const request = readTrainForm();
  Object.assign(lm, { status: 'training', steps: [], trainLosses: [], heldOutLosses: [], tokensPerSecond: null, error: null });
  chartPoints = [];
  totalSteps = request.steps;
  drawLossChart(chart, chartPoints, totalSteps);
  $<HTMLProgressElement>('progress').value = 0;
  $('error').hidden = true;
  setBusy(true);
  send(request);
}

trainForm.addEventListener('submit', (event) => {
  event.preventDefault();
  startTraining();
});

// ---- generation ----

generateForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const data = new FormData(generateForm);
  const prompt = String(data.get('prompt'));
  Object.assign(lm, { status: 'generating', generated: '', generateTokensPerSecond: null, error: null });
  $('sample').textContent = prompt;
  $('error').hidden = true;
  setBusy(true);
  setStatus('generating…');
  send({
    type: 'generate', prompt, characters: Math.max(1, Math.floor(Number(data.get('characters')))),
    temperature: Math.max(0, Number(data.get('temperature'))), topK: Math.max(0, Math.floor(Number(data.get('topK')))),
    seed: Math.max(0, Math.floor(Number(data.get('seed')))) >>> 0,
  });
});

// ---- text, save / load ----

$<HTMLInputElement>('text-file').addEventListener('change', async (event) => {
  const file = (event.target as HTMLInputElement).files?.[0];
  if (!file) return;
  textBox.value = await file.text();
  showTextSize();
});
textBox.addEventListener('input', showTextSize);

$('save').addEventListener('click', () => send({ type: 'save' }));
$<HTMLInputElement>('load').addEventListener('change', async (event) => {
  const file = (event.target as HTMLInputElement).files?.[0];
  if (!file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  setStatus(`loading ${file.name}…`);
  setBusy(true);
  send({ type: 'load', name: file.name, bytes }, [bytes.buffer]);
});

// ---- messages from the worker ----

worker.onmessage = (event: MessageEvent<LmFromWorker>) => {
  const message = event.data;
  switch (message.type) {
    case 'status':
      setStatus(message.text);
      if (message.adapter) { lm.adapter = message.adapter; $('adapter').textContent = `adapter: ${message.adapter}`; }
      break;
    case 'progress':
      lm.steps.push(message.step);
      lm.trainLosses.push(message.trainLoss);
      lm.heldOutLosses.push(message.heldOutLoss);
      chartPoints.push({ step: message.step, train: message.trainLoss, heldOut: message.heldOutLoss });
      drawLossChart(chart, chartPoints, totalSteps);
      $<HTMLProgressElement>('progress').value = message.step / message.steps;
      setStatus(`step ${message.step}/${message.steps}: train ${message.trainLoss.toFixed(3)}, held-out ${message.heldOutLoss.toFixed(3)} nats/char, ${message.tokensPerSecond.toFixed(0)} tokens/s`);
      break;
    case 'trained':
      Object.assign(lm, { status: 'trained', tokensPerSecond: message.tokensPerSecond });
      modelReady = true;
      setBusy(false);
      setStatus(`trained ${message.parameters} parameters in ${message.seconds.toFixed(1)} s, ${message.tokensPerSecond.toFixed(0)} tokens/s — generate some text`);
      break;
    case 'loaded':
      Object.assign(lm, { status: 'loaded', loaded: message.name });
      modelReady = true;
      setBusy(false);
      setStatus(`loaded ${message.name}: ${message.description}`);
      break;
    case 'text':
      lm.generated += message.text;
      $('sample').textContent += message.text;
      break;
    case 'generated':
      Object.assign(lm, { status: 'generated', generateTokensPerSecond: message.tokensPerSecond });
      setBusy(false);
      setStatus(`generated ${message.characters} characters, ${message.tokensPerSecond.toFixed(1)} tokens/s`);
      break;
    case 'saved':
      download(message.bytes, message.name);
      break;
    case 'error':
      showError(message.message, message.noWebGpu);
      break;
  }
};

// ---- start ----

for (const [form, names] of [[trainForm, ['layers', 'heads', 'width', 'context', 'steps', 'batch', 'lr']], [generateForm, ['prompt', 'characters', 'temperature', 'topK', 'seed']]] as const) {
  for (const name of names) {
    const value = query.get(name);
    const field = form.elements.namedItem(name) as HTMLInputElement | null;
    if (value !== null && field) field.value = value;
  }
}
drawLossChart(chart, chartPoints, Number(query.get('steps') ?? 300));
setStatus('loading the sample text…');
fetch('/data/text/sample.txt').then(async (response) => {
  if (!response.ok) throw new Error(`/data/text/sample.txt: HTTP ${response.status} ${await response.text()}`);
  textBox.value = await response.text();
}).catch((error: unknown) => {
  setStatus(`no sample text (${error instanceof Error ? error.message : String(error)}): paste your own`);
}).finally(() => {
  showTextSize();
  if (query.get('autostart') === '1') startTraining();
  else if (lm.status === 'starting') setStatus('ready: press Train');
});

// The demo page: controls, live chart, prediction grid and drawing pad. All GPU work happens in
// worker.ts; this thread only draws. Query parameters preset the form (?model=mlp&steps=100&batch=64
// &lr=0.001), ?every=10 sets how many steps each chart point averages, ?test=1000 how many test images
// are evaluated, and ?autostart=1 starts training at once (the end-to-end test uses all of them).
import { drawChart, type ChartPoint } from './chart.ts';
import { MNIST_SIZE, toMnistPixels } from './digit.ts';
import { download } from './download.ts';
import type { FromWorker, Samples, ToWorker, TrainRequest } from './protocol.ts';

/** What the page has done so far, for people in the console and for the end-to-end test. */
interface DemoState {
  status: 'starting' | 'training' | 'trained' | 'error';
  adapter: string;
  steps: number[];
  losses: number[];
  accuracies: number[];
  testAccuracy: number | null;
  imagesPerSecond: number | null;
  prediction: { digit: number; probability: number }[] | null;
  predictions: number;
  /** The prompt and its continuation once a generation has finished. */
  generated: string | null;
  error: string | null;
}

declare global {
  interface Window { webgradDemo: DemoState }
}

const demo: DemoState = {
  status: 'starting', adapter: '', steps: [], losses: [], accuracies: [], testAccuracy: null, imagesPerSecond: null,
  prediction: null, predictions: 0, generated: null, error: null,
};
window.webgradDemo = demo;

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`index.html has no #${id}`);
  return element as T;
};
const form = $<HTMLFormElement>('train-form');
const chart = $<HTMLCanvasElement>('chart');
const pad = $<HTMLCanvasElement>('pad');
const scaled = $<HTMLCanvasElement>('scaled');
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (message: ToWorker, transfer: Transferable[] = []): void => worker.postMessage(message, transfer);

function setStatus(text: string): void {
  $('status').textContent = text;
}

function showError(message: string, noWebGpu: boolean): void {
  demo.status = 'error';
  demo.error = message;
  const box = $('error');
  box.hidden = false;
  box.textContent = noWebGpu ? `This browser has no usable WebGPU. ${message}` : `Error: ${message}`;
  setStatus('stopped');
  $<HTMLButtonElement>('train').disabled = false;
}

// ---- training ----

const query = new URLSearchParams(location.search);
const testImages = Number(query.get('test') ?? 1000);
let chartPoints: ChartPoint[] = [];
let totalSteps = 1;

function readForm(): TrainRequest {
  const data = new FormData(form);
  const number = (name: string) => Number(data.get(name));
  return {
    type: 'train', model: String(data.get('model')), steps: Math.max(1, Math.floor(number('steps'))),
    batchSize: Math.max(1, Math.floor(number('batch'))), lr: number('lr'),
    every: Number(query.get('every') ?? 10), seed: 1, testImages,
  };
}

function startTraining(): void {
  const request = readForm();
  Object.assign(demo, { status: 'training', steps: [], losses: [], accuracies: [], testAccuracy: null, imagesPerSecond: null, error: null });
  chartPoints = [];
  totalSteps = request.steps;
  drawChart(chart, chartPoints, totalSteps);
  $<HTMLProgressElement>('progress').value = 0;
  $<HTMLButtonElement>('train').disabled = true;
  $('error').hidden = true;
  send(request);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  startTraining();
});

// ---- prediction grid ----

function imageCanvas(pixels: Uint8Array): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = MNIST_SIZE;
  const image = new ImageData(MNIST_SIZE, MNIST_SIZE);
  pixels.forEach((v, i) => image.data.set([v, v, v, 255], 4 * i));
  canvas.getContext('2d')!.putImageData(image, 0, 0);
  return canvas;
}

function showSamples(samples: Samples): void {
  const grid = $('grid');
  grid.replaceChildren();
  const size = MNIST_SIZE * MNIST_SIZE;
  for (let i = 0; i < samples.count; i++) {
    const figure = document.createElement('figure');
    const caption = document.createElement('figcaption');
    const [predicted, label] = [samples.predictions[i]!, samples.labels[i]!];
    caption.textContent = `${predicted} (true ${label})`;
    if (predicted !== label) caption.className = 'wrong';
    figure.append(imageCanvas(samples.images.subarray(i * size, (i + 1) * size)), caption);
    grid.append(figure);
  }
}

// ---- drawing pad ----

const padContext = pad.getContext('2d', { willReadFrequently: true })!;
let drawing = false;
let predictionPending = false;
let drawingChanged = false;

function clearPad(): void {
  padContext.fillStyle = '#000';
  padContext.fillRect(0, 0, pad.width, pad.height);
  scaled.getContext('2d')!.clearRect(0, 0, MNIST_SIZE, MNIST_SIZE);
  $('top3').replaceChildren();
  demo.prediction = null;
}

function requestPrediction(): void {
  if (predictionPending) { drawingChanged = true; return; }
  const rgba = padContext.getImageData(0, 0, pad.width, pad.height).data;
  const ink = new Float32Array(pad.width * pad.height);
  for (let i = 0; i < ink.length; i++) ink[i] = rgba[4 * i]! / 255;
  const pixels = toMnistPixels(ink, pad.width, pad.height);
  if (!pixels) return;
  scaled.getContext('2d')!.drawImage(imageCanvas(pixels), 0, 0);
  predictionPending = true;
  drawingChanged = false;
  send({ type: 'predict', pixels }, [pixels.buffer]);
}

function padPoint(event: PointerEvent): [number, number] {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * (pad.width / box.width), (event.clientY - box.top) * (pad.height / box.height)];
}

pad.addEventListener('pointerdown', (event) => {
  drawing = true;
  pad.setPointerCapture(event.pointerId);
  padContext.strokeStyle = '#fff';
  padContext.lineWidth = 22;
  padContext.lineCap = padContext.lineJoin = 'round';
  padContext.beginPath();
  padContext.moveTo(...padPoint(event));
});
pad.addEventListener('pointermove', (event) => {
  if (!drawing) return;
  padContext.lineTo(...padPoint(event));
  padContext.stroke();
});
pad.addEventListener('pointerup', () => {
  drawing = false;
  requestPrediction();
});
$('clear').addEventListener('click', clearPad);

function showPrediction(probabilities: number[]): void {
  const top3 = probabilities.map((probability, digit) => ({ digit, probability })).sort((a, b) => b.probability - a.probability).slice(0, 3);
  demo.prediction = top3;
  demo.predictions++;
  $('top3').replaceChildren(...top3.map(({ digit, probability }) => {
    const item = document.createElement('li');
    item.textContent = `${digit} — ${(100 * probability).toFixed(1)}%`;
    return item;
  }));
}

// ---- save / load ----

$('save').addEventListener('click', () => send({ type: 'save' }));
$<HTMLInputElement>('load').addEventListener('change', async (event) => {
  const file = (event.target as HTMLInputElement).files?.[0];
  if (!file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  setStatus(`loading ${file.name}…`);
  send({ type: 'load', name: file.name, bytes, testImages }, [bytes.buffer]);
});

// ---- text generation ----

const generateForm = $<HTMLFormElement>('generate-form');
generateForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = new FormData(generateForm);
  const file = data.get('ckpt');
  if (!(file instanceof File) || file.size === 0) { showError('pick a gpt checkpoint (.safetensors) to generate from', false); return; }
  const number = (name: string) => Number(data.get(name));
  const bytes = new Uint8Array(await file.arrayBuffer());
  $('generated').textContent = '';
  demo.generated = null;
  $<HTMLButtonElement>('generate').disabled = true;
  setStatus(`generating from ${file.name}…`);
  send({
    type: 'generate', name: file.name, bytes, prompt: String(data.get('prompt')), tokens: Math.max(1, Math.floor(number('tokens'))),
    temperature: Math.max(0, number('temperature')), seed: Math.max(0, Math.floor(number('seed'))),
    ...(number('topK') >= 1 ? { topK: Math.floor(number('topK')) } : {}),
  }, [bytes.buffer]);
});

// ---- messages from the worker ----

worker.onmessage = (event: MessageEvent<FromWorker>) => {
  const message = event.data;
  switch (message.type) {
    case 'status':
      setStatus(message.text);
      if (message.adapter) { demo.adapter = message.adapter; $('adapter').textContent = `adapter: ${message.adapter}`; }
      break;
    case 'progress':
      demo.steps.push(message.step);
      demo.losses.push(message.loss);
      demo.accuracies.push(message.accuracy);
      chartPoints.push({ step: message.step, loss: message.loss, accuracy: message.accuracy });
      drawChart(chart, chartPoints, totalSteps);
      $<HTMLProgressElement>('progress').value = message.step / message.steps;
      setStatus(`step ${message.step}/${message.steps}: loss ${message.loss.toFixed(3)}, accuracy ${(100 * message.accuracy).toFixed(1)}%, ${message.imagesPerSecond.toFixed(0)} images/s`);
      break;
    case 'trained':
      Object.assign(demo, { status: 'trained', testAccuracy: message.testAccuracy, imagesPerSecond: message.imagesPerSecond || demo.imagesPerSecond });
      $('test-accuracy').textContent = `accuracy ${(100 * message.testAccuracy).toFixed(1)}% on the first ${message.testImages}`;
      if (message.seconds) setStatus(`trained in ${message.seconds.toFixed(1)} s, ${message.imagesPerSecond.toFixed(0)} images/s; test accuracy ${(100 * message.testAccuracy).toFixed(1)}% — draw a digit`);
      showSamples(message.samples);
      $<HTMLButtonElement>('train').disabled = false;
      $<HTMLButtonElement>('save').disabled = false;
      break;
    case 'prediction':
      predictionPending = false;
      showPrediction(message.probabilities);
      if (drawingChanged) requestPrediction();
      break;
    case 'saved':
      download(message.bytes, message.name);
      break;
    case 'text':
      $('generated').textContent += message.text;
      break;
    case 'generated':
      demo.generated = $('generated').textContent;
      setStatus(`generated ${message.tokens} tokens, ${message.tokensPerSecond.toFixed(1)} tokens/s`);
      $<HTMLButtonElement>('generate').disabled = false;
      break;
    case 'error':
      predictionPending = false;
      $<HTMLButtonElement>('generate').disabled = false;
      showError(message.message, message.noWebGpu);
      break;
  }
};

// ---- start ----

for (const name of ['model', 'steps', 'batch', 'lr']) {
  const value = query.get(name);
  const field = form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null;
  if (value !== null && field) field.value = value;
}
clearPad();
drawChart(chart, chartPoints, Number(query.get('steps') ?? 500));
if (query.get('autostart') === '1') startTraining();
else setStatus('ready: press Train');

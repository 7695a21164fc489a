// Messages between the page (main.ts) and the training worker (worker.ts).

export interface TrainRequest {
  type: 'train';
  model: string;
  steps: number;
  batchSize: number;
  lr: number;
  /** Post loss and accuracy averaged over every this many steps. */
  every: number;
  seed: number;
  /** Test images to evaluate on when training ends. */
  testImages: number;
}

/** Text from a gpt checkpoint (with its tokenizer) picked by the user, decoded with the KV cache. */
export interface GenerateRequest {
  type: 'generate';
  name: string;
  bytes: Uint8Array;
  prompt: string;
  tokens: number;
  temperature: number;
  /** Absent: sample among every token. */
  topK?: number;
  seed: number;
}

export type ToWorker =
  | TrainRequest
  | GenerateRequest
  | { type: 'predict'; pixels: Uint8Array }
  | { type: 'save' }
  | { type: 'load'; name: string; bytes: Uint8Array; testImages: number };

/** Test images with what the model made of them, for the prediction grid. */
export interface Samples {
  images: Uint8Array;
  labels: Uint8Array | Uint32Array;
  predictions: Uint32Array;
  count: number;
}

export type FromWorker =
  | { type: 'status'; text: string; adapter?: string }
  | { type: 'progress'; step: number; steps: number; loss: number; accuracy: number; imagesPerSecond: number }
  | { type: 'trained'; testAccuracy: number; testImages: number; imagesPerSecond: number; seconds: number; samples: Samples }
  | { type: 'prediction'; probabilities: number[] }
  | { type: 'saved'; bytes: Uint8Array; name: string }
  | { type: 'text'; text: string }
  | { type: 'generated'; tokens: number; tokensPerSecond: number }
  | { type: 'error'; message: string; noWebGpu: boolean };

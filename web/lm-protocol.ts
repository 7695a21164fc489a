// Messages between the language-model page (lm.ts) and its worker (lm-worker.ts).

export interface LmTrainRequest {
  type: 'train';
  text: string;
  layers: number;
  heads: number;
  width: number;
  context: number;
  steps: number;
  batchSize: number;
  lr: number;
  /** Post the train loss (averaged over the window) and the held-out loss every this many steps. */
  every: number;
  seed: number;
}

export interface LmGenerateRequest {
  type: 'generate';
  prompt: string;
  characters: number;
  temperature: number;
  /** 0: sample among every token. */
  topK: number;
  seed: number;
}

export type LmToWorker =
  | LmTrainRequest
  | LmGenerateRequest
  | { type: 'save' }
  | { type: 'load'; name: string; bytes: Uint8Array };

export type LmFromWorker =
  | { type: 'status'; text: string; adapter?: string }
  | { type: 'progress'; step: number; steps: number; trainLoss: number; heldOutLoss: number; tokensPerSecond: number }
  | { type: 'trained'; tokensPerSecond: number; seconds: number; parameters: number }
  | { type: 'loaded'; name: string; description: string; vocab: number; context: number }
  | { type: 'text'; text: string }
  | { type: 'generated'; characters: number; tokensPerSecond: number }
  | { type: 'saved'; bytes: Uint8Array; name: string }
  | { type: 'error'; message: string; noWebGpu: boolean };

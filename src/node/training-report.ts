// The files a finished run leaves in --out: report.json, training curves, the confusion matrix as a
// heatmap, and a grid of misclassified test images (SVG, so the labels stay sharp at any zoom).
import { join } from 'node:path';
import type { AdapterSummary } from '../gpu/device.ts';
import type { ImageSet } from '../data/idx.ts';
import type { EpochResult } from '../runtime/fit.ts';
import { classificationReport, confusionMatrix, type ClassificationReport, type ConfusionMatrix } from '../report/metrics.ts';
import { trainingCurvesSvg } from '../report/training-curves.ts';
import { confusionHeatmapSvg } from '../report/confusion-heatmap.ts';
import { findMisclassified, misclassifiedGridSvg } from '../report/misclassified-grid.ts';
import { writeFileAtomic } from './checkpoint-file.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);
export const writeTextAtomic = (path: string, text: string) => writeFileAtomic(path, utf8(text));

export interface RunReport {
  dataset: string;
  model: string;
  epochs: number;
  batchSize: number;
  seed: number;
  optimizer: string;
  learningRate: number;
  schedule: string;
  augment: boolean;
  adapter: AdapterSummary;
  trainSeconds: number;
  imagesPerSecond: number;
  testAccuracy: number;
  testLoss: number;
  perClass: { className: string; precision: number; recall: number; f1: number; support: number }[];
  macroAverage: { precision: number; recall: number; f1: number };
  confusionMatrix: number[][];
  history: { epoch: number; trainLoss: number; trainAccuracy: number; valLoss: number | null; valAccuracy: number | null; seconds: number; learningRate: number }[];
  memory: { parameterBytes: number; optimizerBytes: number; activationBytes: number; peakBytes: number };
  stoppedBy: string;
  /** Set when the run continued a checkpoint; `epochs` then counts its epochs too. */
  resumedFrom?: { checkpoint: string; epoch: number };
  /** With --mixed-precision: the loss scale at the end and the steps skipped over the whole run (resumed ones included). */
  mixedPrecision?: { lossScale: number; skippedSteps: number };
}

export interface Evaluated { matrix: ConfusionMatrix; report: ClassificationReport }

export function evaluatePredictions(labels: ArrayLike<number>, predictions: Uint32Array, classes: number): Evaluated {
  const matrix = confusionMatrix(labels, predictions, classes);
  return { matrix, report: classificationReport(matrix) };
}

export function toReportHistory(history: EpochResult[]): RunReport['history'] {
  return history.map((h) => ({
    epoch: h.epoch, trainLoss: h.trainLoss, trainAccuracy: h.trainAccuracy, valLoss: h.valLoss ?? null,
    valAccuracy: h.valAccuracy ?? null, seconds: h.seconds, learningRate: h.learningRate,
  }));
}

/** Writes the pictures next to the report; returns the paths written. */
export async function writePictures(out: string, history: EpochResult[], evaluated: Evaluated, test: ImageSet,
  predictions: Uint32Array, classNames: string[]): Promise<string[]> {
  const written: string[] = [];
  const write = async (name: string, text: string) => {
    const path = join(out, name);
    await writeTextAtomic(path, text);
    written.push(path);
  };
  if (history.length > 0) {
    await write('training-curves.svg', trainingCurvesSvg(history.map((h) => ({
      epoch: h.epoch, trainLoss: h.trainLoss, trainAccuracy: h.trainAccuracy,
      ...(h.valLoss === undefined ? {} : { validationLoss: h.valLoss }),
      ...(h.valAccuracy === undefined ? {} : { validationAccuracy: h.valAccuracy }),
    }))));
  }
  await write('confusion-matrix.svg', confusionHeatmapSvg(evaluated.matrix, classNames));
  const pixels = test.rows * test.cols;
  const wrong = findMisclassified(test.labels, predictions, 64).map((i) => ({
    image: test.images.subarray(i * pixels, (i + 1) * pixels), label: test.labels[i]!, predicted: predictions[i]!,
  }));
  await write('misclassified.svg', await misclassifiedGridSvg(wrong, { rows: test.rows, cols: test.cols, classNames }));
  return written;
}

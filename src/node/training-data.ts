// The data a training command names with --dataset: MNIST, Fashion-MNIST, or folder:PATH (PNGs in
// one sub-folder per class), as train and test image sets in memory.
import { statSync } from 'node:fs';
import { loadDataset } from './datasets.ts';
import { loadImageFolder } from './image-folder.ts';
import { PathError, UsageError } from './args.ts';
import { seededPermutation, takeSamples } from '../data/split.ts';
import type { ImageSet } from '../data/idx.ts';

export interface TrainingData { train: ImageSet; test: ImageSet; classNames: string[]; name: string; source: string }

/** `flag` names the flag that gave `dataset` in errors (default: dataset). */
export async function loadTrainingData(dataset: string, options: { dataDir?: string; seed: number; log?: (message: string) => void; flag?: string }): Promise<TrainingData> {
  const flag = options.flag ?? 'dataset';
  if (dataset.startsWith('folder:')) {
    const path = dataset.slice('folder:'.length);
    // An empty path would quietly mean the working directory.
    if (path.trim() === '') throw new UsageError(`--${flag}: "${dataset}" names no folder; give folder:PATH`);
    if (!statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new PathError(`--${flag}: ${path} is not a folder`);
    const folder = loadImageFolder(path, { height: 28, width: 28 });
    // A folder has no test split of its own: hold out a seeded 20%.
    const order = seededPermutation(folder.count, options.seed);
    const testCount = Math.max(1, Math.floor(folder.count * 0.2));
    return {
      train: takeSamples(folder, order.subarray(testCount)), test: takeSamples(folder, order.subarray(0, testCount)),
      classNames: folder.classNames, name: dataset, source: dataset.slice('folder:'.length),
    };
  }
  if (dataset !== 'mnist' && dataset !== 'fashion-mnist') {
    throw new UsageError(`--${flag}: "${dataset}" is not one of mnist, fashion-mnist, folder:PATH`);
  }
  const loaded = await loadDataset(dataset, { ...(options.dataDir ? { dataDir: options.dataDir } : {}), ...(options.log ? { log: options.log } : {}) });
  return { ...loaded, name: dataset };
}

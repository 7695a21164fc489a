// The data a training command names with --dataset: MNIST, Fashion-MNIST, or folder:PATH (PNGs in
// one sub-folder per class), as train and test image sets in memory.
import { loadDataset } from './datasets.ts';
import { loadImageFolder } from './image-folder.ts';
import { UsageError } from './args.ts';
import { seededPermutation, takeSamples } from '../data/split.ts';
import type { ImageSet } from '../data/idx.ts';

export interface TrainingData { train: ImageSet; test: ImageSet; classNames: string[]; name: string; source: string }

export async function loadTrainingData(dataset: string, options: { dataDir?: string; seed: number; log?: (message: string) => void }): Promise<TrainingData> {
  if (dataset.startsWith('folder:')) {
    const folder = loadImageFolder(dataset.slice('folder:'.length), { height: 28, width: 28 });
    // A folder has no test split of its own: hold out a seeded 20%.
    const order = seededPermutation(folder.count, options.seed);
    const testCount = Math.max(1, Math.floor(folder.count * 0.2));
    return {
      train: takeSamples(folder, order.subarray(testCount)), test: takeSamples(folder, order.subarray(0, testCount)),
      classNames: folder.classNames, name: dataset, source: dataset.slice('folder:'.length),
    };
  }
  if (dataset !== 'mnist' && dataset !== 'fashion-mnist') {
    throw new UsageError(`--dataset: "${dataset}" is not one of mnist, fashion-mnist, folder:PATH`);
  }
  const loaded = await loadDataset(dataset, { ...(options.dataDir ? { dataDir: options.dataDir } : {}), ...(options.log ? { log: options.log } : {}) });
  return { ...loaded, name: dataset };
}

// Node-only helpers: dataset files and downloads, PNG folders, checkpoint files, TensorBoard logs.
export { loadDataset, type Dataset, type DatasetName } from './datasets.ts';
export { loadImageFolder, readGrayPng } from './image-folder.ts';
export { saveCheckpoint, loadCheckpoint, readCheckpoint, writeFileAtomic } from './checkpoint-file.ts';
export { openEventFile } from './tensorboard-writer.ts';

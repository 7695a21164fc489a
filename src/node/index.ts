// Node-only helpers: dataset files and downloads, PNG folders, checkpoint files, TensorBoard logs,
// and the command-line parsing the scripts and benchmarks share.
export { loadDataset, type Dataset, type DatasetName } from './datasets.ts';
export { loadImageFolder, readGrayPng } from './image-folder.ts';
export { saveCheckpoint, loadCheckpoint, readCheckpoint, writeFileAtomic } from './checkpoint-file.ts';
export { openEventFile } from './tensorboard-writer.ts';
export { runCommand, UsageError, positive, nonNegative, fraction, between, type ParsedArgs } from './args.ts';
export { numberList } from './list-flags.ts';

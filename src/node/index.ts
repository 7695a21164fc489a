// Node-only helpers: dataset files and downloads, PNG folders, checkpoint files, TensorBoard logs.
export { loadDataset, type Dataset, type DatasetName } from './datasets.ts';
export { loadImageFolder, readGrayPng } from './image-folder.ts';
export { saveCheckpoint, loadCheckpoint, readCheckpoint, readModel, writeFileAtomic } from './checkpoint-file.ts';
export { writableFolder, writableFile, readableFile, keepForeignCheckpoint } from './preflight.ts';
export { resumedFlags, resumedTrainerOptions } from './resume.ts';
export { openEventFile } from './tensorboard-writer.ts';
export { nonNegative, positive, seedRange, UsageError, PathError, runCommand, type ParsedArgs, type CommandSpec, between, fraction } from './args.ts';
export { SIGNAL_EXIT_CODES, stopAfterStepOnSignal, type StopRequest, type StopSignal } from './signals.ts';
export { writeTextAtomic, evaluatePredictions, toReportHistory, writePictures, type RunReport } from './training-report.ts';
export { numberList, choiceList } from './list-flags.ts';
export { loadTrainingData, type TrainingData } from './training-data.ts';
export { OPTIMIZER_NAMES, optimizerConfig, scheduleConfig } from './optimizer-flags.ts';
export { classBalancedSubset, planVariants, trainVariant, withClasses, type VariantResult } from './finetune.ts';
export { formatTrialTable, gridTrials, randomTrials, rankTrials, trialsCsv, type SearchSpace, type TrialConfig, type TrialResult } from './tune.ts';
export { readCsv, parseCsv, type CsvOptions, type CsvData } from './csv.ts';

// webgrad's public API, the same in Node and in browsers. Node-only helpers (dataset files,
// checkpoint files, PNG folders, command-line flags) are in 'webgrad/node'.

// Device and buffers.
export { createGpu, Gpu, DeviceLostError, NoAdapterError, type AdapterSummary, type GpuOptions } from './gpu/device.ts';
export { kernel, grid1d, encodeDispatches, Kernel, type Dispatch, type Workgroups, type BufferRef } from './gpu/kernel.ts';
export { storageBuffer, uploadBuffer, writeBuffer, readFloat32, readUint32, readInt32, readBytes, runDispatches } from './gpu/buffers.ts';

// Drawing models: symbolic inputs, layers, tensor ops, Model and Sequential, the zoo.
export { Layer, SymbolicTensor, input, type Shape, type BuildContext, type InputOptions, type LayerConfig } from './layers/layer.ts';
export { Dense, Conv2D, MaxPool2D, AvgPool2D, Flatten, ActivationLayer, ReLU, Sigmoid, Tanh, Softmax, Dropout, BatchNorm, type Activation } from './layers/layers.ts';
export { SimpleRNN, LSTM } from './layers/recurrent.ts';
export { Embedding, PositionalEmbedding, ClassToken } from './layers/tokens.ts';
export { TiedDense } from './layers/tokens.ts';
export { LayerNorm, GELU, ScaledDotProductAttention, multiHeadAttention, transformerBlock, type MultiHeadAttentionOptions, type TransformerBlockOptions } from './layers/transformer.ts';
export { Elementwise, Unary, Concatenate, Slice, Reshape, Permute, add, sub, mul, div, exp, log, sqrt, scale, shift, concat, slice, split, reshape, permute, transpose } from './layers/ops.ts';
export { Reduce, SoftmaxAxis, Gather, REDUCE_KINDS, sum, mean, max, softmax, logSoftmax, gather, type ReduceKind, type ReduceOptions } from './layers/axis-ops.ts';
export { Where, MaskedFill, where, maskedFill } from './layers/select-ops.ts';
export { MatMul, matmul } from './layers/matmul.ts';
export { Model, Sequential, imageClassifierShape, type ModelConfig, type ModelNode, type ImageClassifierShape } from './model/model.ts';
export { zooModel, ZOO_NAMES, type ZooOptions } from './model/zoo.ts';
export { gptModel, type GptOptions } from './model/gpt.ts';
export { LoraDense, isLoraTensor, loraTensorNames, MAX_LORA_RANK, type LoraDenseOptions } from './layers/lora.ts';
export { withLora, frozenBase, loraInitialValues, loraLayers, loraBaseModel, mergeLora, LORA_TARGETS, type LoraOptions } from './model/lora.ts';

// Training and evaluation.
export { learningRate, SCHEDULES, type OptimizerConfig, type Schedule } from './optim/optim.ts';
export { DECAY_GROUPS, parameterWeightDecay, type DecayGroups } from './optim/optim.ts';
export { ModelState, Trainer, Evaluator, DivergenceError, NonFiniteLossError, type TrainerOptions, type Totals, type Evaluation } from './runtime/runtime.ts';
export { fit, stepsPerEpoch, DEFAULT_DIVERGENCE_FACTOR, type FitOptions, type FitResult, type EpochResult, type BatchInfo } from './runtime/fit.ts';
export { fitProgress, type FitProgressOptions } from './runtime/fit-progress.ts';
export { uploadDataset, uploadTokens, destroyDataset, range } from './runtime/dataset.ts';
export { predictLogits } from './runtime/logits.ts';

// Text generation from a gpt: a KV-cache decoder on the GPU, full-window recomputation, sampling.
export { gptOptionsOf } from './model/gpt-options.ts';
export { KvCacheDecoder } from './generate/kv-decoder.ts';
export { FullWindowDecoder } from './generate/window-decoder.ts';
export { generateTokens, type GenerateOptions } from './generate/generate.ts';
export { sampleToken, checkSampling, type SamplingOptions } from './generate/sampling.ts';
export type { NextTokenModel } from './generate/next-token.ts';
export { textStream, type TextStream } from './generate/text-stream.ts';
export type { GpuData, GpuDataset, GpuTokenDataset, Normalization, MemoryReport } from './compiler/program.ts';
export { tensorDataset, type FieldData } from './runtime/dataset.ts';
export { MAX_SHARDS, type UploadOptions } from './runtime/dataset-shards.ts';
export type { SampleShards, SampleSource } from './kernels/gather.ts';
export { predict, type PredictInput, type PredictOptions } from './runtime/predict.ts';
export { type EvaluatorOptions, type ParameterBuffers } from './runtime/runtime.ts';
export { LOSS_NAMES } from './compiler/loss.ts';
export { seededRandom } from './data/split.ts';
export { encodePng } from './report/png.ts';
export { gatherRows, gatherScaledBytes, channelScaling, type FieldGatherIo } from './kernels/gather.ts';
export { l1Loss, huberLoss, binaryCrossEntropyWithLogits, regressionMetrics, rowMean, accumulateColumns, mseLoss } from './kernels/loss.ts';
export type { ChannelNormalization, FieldDType, GpuField, GpuTensorDataset, LossFunction, LossName, LossSpec, Task } from './compiler/program.ts';

// Data, checkpoints, reports.
export { decodeIdx, decodeIdxSplit, type ImageSet } from './data/idx.ts';
export { resizeGray, resizeImages, type ImageLayout } from './data/resize.ts';
export { CharTokenizer, ByteTokenizer, tokenizerFromDescription, type Tokenizer, type TokenizerDescription } from './data/text.ts';
export { epochPermutation, seededPermutation, splitValidation, takeSamples, pixelStats, channelStats } from './data/split.ts';
export { bigramLoss, type BigramLoss } from './data/bigram.ts';
export { splitTokenStream, trainingStarts, evaluationStarts, type TokenSplit, type SplitPart } from './runtime/token-windows.ts';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors.ts';
export { encodeCheckpoint, decodeCheckpoint, modelFromCheckpoint, restoreCheckpoint, loadMatchingWeights, loadModel, weightValues, type Checkpoint, type LoadedModel, type ModelDescription } from './io/checkpoint.ts';
export { describeModel, modelFromDescription } from './io/checkpoint-schema.ts';
export { encodeAdapters, decodeAdapters, applyAdapters, baseWeightsSha256, type Adapters } from './io/adapters.ts';
export { modelToGraph, modelFromGraph, layerFromConfig, LAYER_TYPE_NAMES, GRAPH_LIMITS, type ModelGraph } from './io/model-graph.ts';
export { confusionMatrix, classificationReport, formatClassificationReport, formatConfusionMatrix } from './report/metrics.ts';
export { EpochProgress, formatEpochSummary } from './report/progress.ts';

// Compression.
export { quantizePerChannel, linearWeightNames, modelBytes, quantizeModel } from './compress/quantize.ts';
export { applyMasks, keepPrunedAtZero, pruneModelMasks, sparsityOf, type PruneScope } from './compress/prune.ts';
export { accuracyOf, QuantizedState } from './compress/int8-model.ts';

// Kernel launchers, for benchmarks and for building new layers.
export { activationBackward, activationForward, softmaxRows, type ActivationKind } from './kernels/activation.ts';
export { batchNormBackward, batchNormForwardTrain, type BatchNormShape } from './kernels/batchnorm.ts';
export { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dOutputSize, conv2dScratchBytes, convAlgorithm, type Conv2dShape, type ConvAlgorithm } from './kernels/conv.ts';
export { chooseConvAlgorithm, convTuned, forceConvAlgorithm } from './kernels/conv.ts';
export { tuneConv } from './kernels/conv_tune.ts';
export { decideRace, ROUND_TIE, type RaceResult, type TuningCachePolicy, type TuningOutcome } from './kernels/tuning.ts';
export { tuneGemm, gemmTuned, chooseGemmVariant, describeVariant, gemm, gemmShape, gemmVariantValid, gemmWith, GEMM_VARIANTS, type GemmArgs, type GemmVariant } from './kernels/gemm.ts';
export { dropoutBackward, dropoutForward } from './kernels/dropout.ts';
export { binaryOp, unaryOp, sumToShape, fillBuffer, permuteAxes, broadcastShape, type BinaryOp, type UnaryOp } from './kernels/elementwise.ts';
export { gatherBatch, gatherTokens, packBytes, type AugmentOptions, type TokenGatherIo } from './kernels/gather.ts';
export { int8Conv2d, int8Conv2dScratchBytes, int8Dense, int8DenseScratchBytes, packedDotSupported } from './kernels/int8.ts';
export { accumulateMetrics, softmaxCrossEntropy } from './kernels/loss.ts';
export { ROW_VARIANTS, type RowVariant } from './kernels/row-variant.ts';
export { maxPool2dForward, pool2dOutputSize, type Pool2dShape } from './kernels/pool.ts';
export { biasGradient } from './kernels/reduce.ts';
export { copyBlocks, swapOuterAxes } from './kernels/layout.ts';
export { layerNormBackward, layerNormForward, LAYER_NORM_EPS, type LayerNormShape } from './kernels/layernorm.ts';
export { geluBackward, geluForward } from './kernels/gelu.ts';
export { appendKeyValue, attentionDecode, decodeCacheFloats, type DecodeShape, type DecodeIo } from './kernels/attention_decode.ts';
export { axisShape, sumAxis, sumAxisBackward, maxAxis, maxAxisBackward, softmaxAxis, softmaxAxisBackward, type AxisShape } from './kernels/reduce_axis.ts';
export { selectWhere, selectMaskedFill, whereBackward } from './kernels/select.ts';
export { gatherAxis, gatherAxisBackward, gatherAxisScratchWords, type GatherAxisShape } from './kernels/gather_axis.ts';
export { broadcastTo } from './kernels/elementwise.ts';
export { embeddingBackward, embeddingForward, embeddingScratchWords, type EmbeddingShape } from './kernels/embedding.ts';
export { attentionBackward, attentionDropoutKeeps, attentionForward, MAX_HEAD_DIM, type AttentionDropout, type AttentionOptions, type AttentionShape } from './kernels/attention.ts';

// f16: CPU rounding and packing, f32 ↔ packed-f16 conversion kernels.
export { f16Bits, f16BitsOfF32Bits, f16Value, f32BitsOfF16, roundToF16, packF16, unpackF16 } from './data/f16.ts';
export { packToF16, unpackFromF16, f16Bytes, type F16ConversionArgs } from './kernels/f16.ts';
export { GEMM_F16_VARIANTS, gemmVariantAvailable, gemmVariantsFor, type GemmStorage, type TuneGemmOptions } from './kernels/gemm.ts';
export { applyLossScale, unscaleGradients, updateLossScale, createLossScaleState, readLossScale, lossScaleOptions, LOSS_SCALE_DEFAULTS, LOSS_SCALE_STATE_BYTES, type LossScaleOptions, type LossScaleState, type LossScaleValues } from './kernels/loss_scale.ts';
export { Session, unsteadyTuningNote, type SessionOptions, type SessionTuning } from './runtime/session.ts';
export type { Int8Tensor, Int8Weights } from './compiler/int8.ts';

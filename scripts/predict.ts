// Classifies PNG images with a trained checkpoint: the model (a zoo network or any drawn graph) is
// rebuilt from the checkpoint's own metadata, each image becomes gray at the model's input size
// (any size is resized; a dark digit on light paper is inverted to MNIST's light-on-dark; gray is
// repeated into every channel of a colour input), and the top classes are printed with their
// probabilities.
//
//   node --import tsx scripts/predict.ts --ckpt runs/mnist.safetensors digit.png [more.png …]
//   node --import tsx scripts/predict.ts --ckpt model.safetensors --logits digit.png     raw logits as JSON
import { Session, ModelState, destroyDataset, range, uploadDataset, predictLogits, imageClassifierShape, resizeImages } from 'webgrad';
import { readGrayPng, readableFile, positive, runCommand, UsageError, type CommandSpec, type ParsedArgs, readModel } from 'webgrad/node';

const flags = {
  ckpt: { type: 'path', help: 'checkpoint written by train-mnist (a .safetensors file)' },
  top: { type: 'int', default: 3, check: positive, help: 'how many classes to print per image' },
  logits: { type: 'bool', help: 'print each image\'s raw logits (JSON, every float32 exact) instead of the top classes' },
} as const;

// The parser has no variadic positionals, so offer one slot per argument given; the first is required.
function command(argumentCount: number): CommandSpec<typeof flags> {
  return {
    name: 'predict',
    summary: 'Prints the most likely classes of each PNG image under a trained checkpoint.',
    flags,
    positionals: Array.from({ length: Math.max(1, argumentCount) }, (_, i) => ({ name: i === 0 ? 'image.png' : 'more.png', help: 'PNG images to classify', required: i === 0 })),
  };
}

function softmax(logits: Float32Array): Float64Array {
  const max = Math.max(...logits);
  const exps = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}

async function main({ flags: options, positionals: images }: ParsedArgs<ReturnType<typeof command>['flags']>): Promise<number> {
  if (!options.ckpt) throw new UsageError('--ckpt: needs the checkpoint file to predict with');
  const { model, weights, normalize, classNames } = await readModel(options.ckpt);
  let shape;
  try {
    shape = imageClassifierShape(model);
  } catch (error) {
    throw new Error(`${options.ckpt}: predict classifies images, and ${(error as Error).message}`);
  }
  const { channels, height, width, classes } = shape;
  // Every image is read before the GPU starts, so a bad file fails fast and by name.
  images.forEach(readableFile);
  const gray = new Uint8Array(images.length * height * width);
  images.forEach((path, i) => gray.set(readGrayPng(path, { height, width, invertLight: true }), i * height * width));
  const pictures = resizeImages({ images: gray, labels: new Uint8Array(images.length), count: images.length, rows: height, cols: width }, { channels });

  // The session tunes GEMM for this adapter before anything compiles (programs bake in the variant).
  const { gpu } = await Session.create();
  const state = new ModelState(gpu, model, weights);
  const data = uploadDataset(gpu, pictures, classes, 'images');
  const logits = await predictLogits(gpu, model, state, data, range(0, images.length), normalize);
  destroyDataset(gpu, data);
  state.destroy();

  images.forEach((path, i) => {
    if (options.logits) {
      console.log(`${path}: ${JSON.stringify(Array.from(logits.subarray(i * classes, (i + 1) * classes)))}`);
      return;
    }
    const probabilities = softmax(logits.subarray(i * classes, (i + 1) * classes));
    const ranked = [...probabilities.keys()].sort((a, b) => probabilities[b]! - probabilities[a]!).slice(0, options.top);
    console.log(`${path}: ${ranked.map((c) => `${classNames[c]} ${(100 * probabilities[c]!).toFixed(1)}%`).join(', ')}`);
  });
  return 0;
}

runCommand(command(process.argv.length - 2), main);

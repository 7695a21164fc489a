# PyTorch CPU side of bench/train-lm.ts: training tokens/s of the same character-level GPT (the
# nanoGPT-layout model bench/train-lm-parity.py trains, imported from there), AdamW, random windows
# of the corpus, a few warm-up steps and then a few timed ones. Run by train-lm.ts:
#   python3 bench/train-lm.py '{"corpus": FILE, "layers": 4, "heads": 4, "width": 128, "context": 128, "batch": 32, "steps": 3, "warmup": 1, "lr": 0.003}'
# Prints one JSON line: {"version", "threads", "msPerStep", "tokensPerSecond", "warmupLoss", "loss"}.
import importlib.util
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('train_lm_parity', os.path.join(HERE, 'train-lm-parity.py'))
parity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(parity)


def main(run):
    torch.manual_seed(1)
    torch.set_num_threads(os.cpu_count() or 1)
    with open(run['corpus'], encoding='utf-8') as f:
        text = f.read()
    chars = sorted(set(text))  # code-point order, as CharTokenizer.fromCorpus
    index = {c: i for i, c in enumerate(chars)}
    tokens = torch.tensor([index[c] for c in text], dtype=torch.int32)
    context, batch = run['context'], run['batch']
    sizes = {'vocab': len(chars), 'context': context, 'layers': run['layers'], 'heads': run['heads'], 'width': run['width']}
    model = parity.gpt.GPT(**sizes, tied=False)
    optimizer = parity.gpt.configure_optimizer(model, {'lr': run['lr'], 'betas': (0.9, 0.999), 'eps': 1e-8, 'weight_decay': 0.01})
    model.train()

    def step():
        starts = torch.randint(0, tokens.shape[0] - context - 1, (batch,))
        x, y = parity.windows(tokens, starts, context)
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x).view(-1, sizes['vocab']), y.view(-1))
        loss.backward()
        optimizer.step()
        return loss.item()

    warmup = [step() for _ in range(run['warmup'])]
    began = time.perf_counter()
    losses = [step() for _ in range(run['steps'])]
    seconds = time.perf_counter() - began
    print(json.dumps({
        'version': torch.__version__, 'threads': torch.get_num_threads(), 'msPerStep': 1000 * seconds / run['steps'],
        'tokensPerSecond': run['steps'] * batch * context / seconds, 'warmupLoss': sum(warmup) / len(warmup), 'loss': sum(losses) / len(losses),
    }))


if __name__ == '__main__':
    main(json.loads(sys.argv[1]))

# PyTorch CPU twin of bench/train-lm-parity.ts: the same nanoGPT-layout GPT (the one
# test/fixtures/pytorch-gpt/make_fixture.py defines and test/gpt-pytorch.test.ts checks against
# webgrad), the same initial weights, batch order and per-step learning rates (all written by the
# TypeScript side), AdamW with nanoGPT's decay groups and gradient clipping, then the mean
# cross-entropy on the same validation windows. Run by train-lm-parity.ts:
#   python3 bench/train-lm-parity.py FOLDER        (FOLDER holds run.json, weights.safetensors, data.safetensors)
# Prints one JSON line: {"version", "threads", "valLoss", "tokensPerSecond", "msPerStep", "trainLoss"}.
import importlib.util
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('gpt_fixture', os.path.join(HERE, '..', 'test', 'fixtures', 'pytorch-gpt', 'make_fixture.py'))
gpt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpt)


def windows(tokens, starts, context):
    x = torch.stack([tokens[s:s + context] for s in starts.tolist()]).long()
    y = torch.stack([tokens[s + 1:s + 1 + context] for s in starts.tolist()]).long()
    return x, y


def main(folder):
    with open(os.path.join(folder, 'run.json')) as f:
        run = json.load(f)
    weights, _ = gpt.load_safetensors(os.path.join(folder, 'weights.safetensors'))
    data, _ = gpt.load_safetensors(os.path.join(folder, 'data.safetensors'))
    sizes, context = run['sizes'], run['sizes']['context']
    model = gpt.GPT(**sizes, tied=run['tieWeights'])
    model.load_state_dict(weights, strict=True)
    adamw = run['adamw']
    optimizer = gpt.configure_optimizer(model, {'lr': adamw['lr'], 'betas': (adamw['beta1'], adamw['beta2']), 'eps': adamw['eps'], 'weight_decay': adamw['weightDecay']})
    tokens, starts, rates, val_starts = data['tokens'], data['starts'], data['lrs'], data['val_starts']
    model.train()
    losses = []
    began = time.perf_counter()
    for step in range(starts.shape[0]):
        x, y = windows(tokens, starts[step], context)
        for group in optimizer.param_groups:
            group['lr'] = rates[step].item()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x).view(-1, sizes['vocab']), y.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), run['clipNorm'])
        optimizer.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - began
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, val_starts.shape[0], run['batch']):
            x, y = windows(tokens, val_starts[i:i + run['batch']], context)
            total += F.cross_entropy(model(x).view(-1, sizes['vocab']), y.view(-1), reduction='sum').item()
            count += y.numel()
    steps = starts.shape[0]
    tail = losses[-run['reportLast']:]
    print(json.dumps({
        'version': torch.__version__, 'threads': torch.get_num_threads(), 'valLoss': total / count,
        'msPerStep': 1000 * seconds / steps, 'tokensPerSecond': steps * run['batch'] * context / seconds, 'trainLoss': sum(tail) / len(tail),
    }))


if __name__ == '__main__':
    main(sys.argv[1])

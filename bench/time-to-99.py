# PyTorch CPU twin of bench/time-to-99.ts: the same model, optimizer, schedule, batch size and
# normalization on the same decoded images, timed the same way (from the raw bytes in memory to the
# first test evaluation that reaches the target). Run by time-to-99.ts:
#   python3 bench/time-to-99.py FOLDER RECIPE_JSON     (FOLDER holds {train,test}-{images,labels}.u8)
# Prints one JSON line: {"version", "threads", "runs": [...]}, shaped like time-to-99.ts's runs.
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn


def build(name):
    # Layer for layer the zoo's models (src/model/zoo.ts), with PyTorch's default initialization.
    if name == 'cnn':
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(1600, 10))
    if name == 'cnn-bn':
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Flatten(), nn.Linear(1600, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.4),
            nn.Linear(128, 10))
    if name == 'fast':
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(576, 10))
    raise SystemExit(f'time-to-99.py: no PyTorch twin of model "{name}"')


def read_u8(folder, name):
    with open(os.path.join(folder, name), 'rb') as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)


def scheduler(optimizer, recipe, total_steps):
    if recipe['schedule'] == 'onecycle':
        # webgrad's onecycle: PyTorch's defaults, but the learning rate alone (no momentum cycling).
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe['lr'], total_steps=total_steps, cycle_momentum=False)
    if recipe['schedule'] == 'cosine':
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def accuracy(model, images, labels):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(labels), 500):
            correct += (model(images[start:start + 500]).argmax(1) == labels[start:start + 500]).sum().item()
    model.train()
    return correct / len(labels)


def run(folder, recipe, seed):
    raw = {name: read_u8(folder, f'{name}.u8') for name in ('train-images', 'train-labels', 'test-images', 'test-labels')}
    start = time.perf_counter()
    mean, std = recipe['normalize']['mean'], recipe['normalize']['std']
    prepare = lambda images: ((images.float() / 255 - mean) / std).reshape(-1, 1, 28, 28)
    train_x, train_y = prepare(raw['train-images']), raw['train-labels'].long()
    test_x, test_y = prepare(raw['test-images']), raw['test-labels'].long()
    torch.manual_seed(seed)
    model = build(recipe['model'])
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe['lr'])
    batch = recipe['batchSize']
    per_epoch = len(train_y) // batch
    # A fractional --epochs ends the schedule, and the run, mid-epoch (webgrad's scheduleSteps).
    lr_schedule = scheduler(optimizer, recipe, round(per_epoch * recipe['epochs']))
    every = math.ceil(per_epoch / recipe['evalsPerEpoch'])
    evaluations, evaluation_seconds = [], 0.0
    for epoch in range(math.ceil(recipe['epochs'])):
        order = torch.randperm(len(train_y))
        for step in range(per_epoch):
            picked = order[step * batch:(step + 1) * batch]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(train_x[picked]), train_y[picked], label_smoothing=recipe['labelSmoothing'])
            loss.backward()
            optimizer.step()
            lr_schedule.step()
            epochs_done = epoch + (step + 1) / per_epoch
            at_point = (step + 1) % every == 0 or step + 1 == per_epoch
            if at_point and epochs_done >= recipe['firstEval'] - 1e-6:
                eval_start = time.perf_counter()
                acc = accuracy(model, test_x, test_y)
                evaluation_seconds += time.perf_counter() - eval_start
                at = {'epochs': round(epochs_done, 3), 'seconds': round(time.perf_counter() - start, 2), 'accuracy': acc}
                evaluations.append(at)
                print(f"  PyTorch seed {seed}: {at['epochs']:.2f} epochs, {at['seconds']:.1f} s: test accuracy {100 * acc:.2f}%", file=sys.stderr)
                if acc >= recipe['target']:
                    return finish(seed, at['seconds'], evaluations, evaluation_seconds)
                if epochs_done >= recipe['epochs'] - 1e-6:
                    return finish(seed, None, evaluations, evaluation_seconds)
    return finish(seed, None, evaluations, evaluation_seconds)


def finish(seed, seconds, evaluations, evaluation_seconds):
    return {
        'seed': seed, 'seconds': seconds, 'epochsTrained': evaluations[-1]['epochs'] if evaluations else 0,
        'bestAccuracy': max([e['accuracy'] for e in evaluations], default=0), 'evaluationSeconds': round(evaluation_seconds, 2),
        'evaluations': evaluations,
    }


def main():
    folder, recipe = sys.argv[1], json.loads(sys.argv[2])
    torch.set_num_threads(os.cpu_count() or 1)
    runs = [run(folder, recipe, seed) for seed in recipe['seeds']]
    print(json.dumps({'version': torch.__version__, 'threads': torch.get_num_threads(), 'runs': runs}))


main()

import { describe, expect, it } from 'vitest';
import { trainingCurvesSvg } from '../../src/report/training-curves.ts';
import { parseXmlElements } from '../helpers/xml.ts';

const history = [
  { epoch: 1, trainLoss: 0.42, trainAccuracy: 0.88, validationLoss: 0.2, validationAccuracy: 0.94 },
  { epoch: 2, trainLoss: 0.15, trainAccuracy: 0.955, validationLoss: 0.11, validationAccuracy: 0.967 },
  { epoch: 3, trainLoss: 0.09, trainAccuracy: 0.973, validationLoss: 0.08, validationAccuracy: 0.976 },
];

function seriesPoints(svg: string): Map<string, Array<[number, number]>[]> {
  const found = new Map<string, Array<[number, number]>[]>();
  for (const e of parseXmlElements(svg).filter((e) => e.name === 'polyline')) {
    const points = e.attributes.points!.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
    found.set(e.attributes['data-name']!, [...(found.get(e.attributes['data-name']!) ?? []), points]);
  }
  return found;
}

describe('trainingCurvesSvg', () => {
  it('draws train and validation curves in a loss panel and an accuracy panel', () => {
    const svg = trainingCurvesSvg(history);
    const elements = parseXmlElements(svg);
    const texts = elements.filter((e) => e.name === 'text').map((e) => e.text);
    expect(texts).toEqual(expect.arrayContaining(['Loss', 'Accuracy', 'epoch', 'train', 'validation', 'cross-entropy', 'accuracy']));
    // Loss axis starts at 0 and ends on a nice tick above 0.42; accuracy ticks cover 0.88..0.976.
    expect(texts).toEqual(expect.arrayContaining(['0.0', '0.5', '0.88', '0.98', '1', '2', '3']));
    const curves = seriesPoints(svg);
    expect(curves.get('train')!.map((c) => c.length)).toEqual([3, 3]);
    expect(curves.get('validation')!.map((c) => c.length)).toEqual([3, 3]);
    // Falling loss goes down the page (y grows); rising accuracy goes up (y shrinks).
    const [trainLoss, trainAccuracy] = curves.get('train')!;
    expect(trainLoss![0]![1]).toBeLessThan(trainLoss![2]![1]);
    expect(trainAccuracy![0]![1]).toBeGreaterThan(trainAccuracy![2]![1]);
    // Epochs are evenly spaced along x, and the accuracy panel sits right of the loss panel.
    expect(trainLoss![1]![0] - trainLoss![0]![0]).toBeCloseTo(trainLoss![2]![0] - trainLoss![1]![0], 1);
    expect(trainAccuracy![0]![0]).toBeGreaterThan(trainLoss![2]![0]);
  });

  it('works without validation and with a single epoch', () => {
    const svg = trainingCurvesSvg([{ epoch: 1, trainLoss: 2.3, trainAccuracy: 0.1 }]);
    const curves = seriesPoints(svg);
    expect([...curves.keys()]).toEqual(['train']);
    expect(parseXmlElements(svg).filter((e) => e.name === 'circle')).toHaveLength(2);
    expect(() => trainingCurvesSvg([])).toThrow('trainingCurvesSvg: no epochs to draw');
  });

  it('names the x axis as asked and draws a loss baseline as a dashed level line across the loss panel', () => {
    const svg = trainingCurvesSvg(history, { xLabel: 'step', lossBaseline: { name: 'bigram', loss: 0.6 } });
    const elements = parseXmlElements(svg);
    const texts = elements.filter((e) => e.name === 'text').map((e) => e.text);
    expect(texts).toEqual(expect.arrayContaining(['step', 'bigram']));
    expect(texts).not.toContain('epoch');
    const curves = seriesPoints(svg);
    const [level] = curves.get('bigram')!;
    expect(curves.get('bigram')).toHaveLength(1);
    expect(level).toHaveLength(2);
    const [trainLoss] = curves.get('train')!;
    // Level, spanning the first to the last epoch, and above every loss (0.6 > 0.42): the axis grew to hold it.
    expect(level![0]![1]).toBe(level![1]![1]);
    expect(level![0]![0]).toBe(trainLoss![0]![0]);
    expect(level![1]![0]).toBe(trainLoss![2]![0]);
    expect(level![0]![1]).toBeLessThan(trainLoss![0]![1]);
    expect(texts).toContain('0.6');
    const dashed = elements.filter((e) => e.name === 'polyline' && e.attributes['stroke-dasharray']);
    expect(dashed.map((e) => e.attributes['data-name'])).toEqual(['bigram']);
  });
});

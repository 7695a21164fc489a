import { describe, expect, it } from 'vitest';
import { classificationReport, confusionMatrix, formatClassificationReport, formatConfusionMatrix } from '../../src/report/metrics.ts';

// Three classes, eight samples, worked by hand:
//   true 0: predicted 0, 0, 1        → row [2, 1, 0]
//   true 1: predicted 1, 1, 1, 2     → row [0, 3, 1]
//   true 2: predicted 0              → row [1, 0, 0]
const labels = [0, 0, 0, 1, 1, 1, 1, 2];
const predictions = [0, 0, 1, 1, 1, 1, 2, 0];

describe('confusionMatrix', () => {
  it('counts true × predicted', () => {
    expect(Array.from(confusionMatrix(labels, predictions, 3).counts)).toEqual([2, 1, 0, 0, 3, 1, 1, 0, 0]);
  });

  it('rejects mismatched lengths and out-of-range classes', () => {
    expect(() => confusionMatrix([0, 1], [0], 2)).toThrow('confusionMatrix: 2 labels but 1 predictions');
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow('confusionMatrix: sample 1 has label 3, prediction 1, outside 0..2');
  });
});

describe('classificationReport', () => {
  it('matches the hand computation', () => {
    const report = classificationReport(confusionMatrix(labels, predictions, 3));
    // class 0: precision 2/3 (column 2+0+1), recall 2/3, F1 2/3
    // class 1: precision 3/4 (column 1+3+0), recall 3/4, F1 3/4
    // class 2: precision 0/1, recall 0/1, F1 0 (0/0 counts as 0)
    const expected = [
      { precision: 2 / 3, recall: 2 / 3, f1: 2 / 3, support: 3 },
      { precision: 3 / 4, recall: 3 / 4, f1: 3 / 4, support: 4 },
      { precision: 0, recall: 0, f1: 0, support: 1 },
    ];
    report.perClass.forEach((scores, c) => {
      for (const key of ['precision', 'recall', 'f1'] as const) expect(scores[key]).toBeCloseTo(expected[c]![key], 12);
      expect(scores.support).toBe(expected[c]!.support);
    });
    expect(report.accuracy).toBeCloseTo(5 / 8, 12);
    expect(report.macro.f1).toBeCloseTo((2 / 3 + 3 / 4) / 3, 12);
    expect(report.weighted.precision).toBeCloseTo((3 * (2 / 3) + 4 * (3 / 4)) / 8, 12);
    expect(report.total).toBe(8);
  });

  it('has unequal precision and recall when a class absorbs others', () => {
    // Everything predicted as 0: class 0 precision 2/4, recall 1; class 1 never predicted.
    const report = classificationReport(confusionMatrix([0, 0, 1, 1], [0, 0, 0, 0], 2));
    expect(report.perClass[0]).toEqual({ precision: 0.5, recall: 1, f1: 2 / 3, support: 2 });
    expect(report.perClass[1]).toEqual({ precision: 0, recall: 0, f1: 0, support: 2 });
  });
});

describe('text tables', () => {
  it('lays out the report like sklearn', () => {
    const text = formatClassificationReport(classificationReport(confusionMatrix(labels, predictions, 3)), ['cat', 'dog', 'bird'], 3);
    expect(text.split('\n')).toEqual([
      '              precision    recall  f1-score   support',
      '',
      '         cat      0.667     0.667     0.667         3',
      '         dog      0.750     0.750     0.750         4',
      '        bird      0.000     0.000     0.000         1',
      '',
      '    accuracy                          0.625         8',
      '   macro avg      0.472     0.472     0.472         8',
      'weighted avg      0.625     0.625     0.625         8',
      '',
    ]);
  });

  it('prints the confusion matrix with class names', () => {
    const text = formatConfusionMatrix(confusionMatrix(labels, predictions, 3), ['cat', 'dog', 'bird']);
    expect(text.split('\n')).toEqual([
      'true \\ predicted  cat  dog bird',
      'cat                 2    1    0',
      'dog                 0    3    1',
      'bird                1    0    0',
      '',
    ]);
  });
});

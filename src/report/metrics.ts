// Classification metrics and their plain-text tables (the layout of sklearn's classification_report).
//
//   confusionMatrix(labels, predictions, classes) → ConfusionMatrix, counts[true * classes + predicted]
//   classificationReport(matrix)                   → per-class precision/recall/F1/support, accuracy,
//                                                    macro and support-weighted averages
//   formatClassificationReport(report, classNames) → text table
//   formatConfusionMatrix(matrix, classNames)      → text table, rows true class, columns predicted
// A ratio whose denominator is zero (a class never predicted or never present) counts as 0, as sklearn does.

export interface ConfusionMatrix {
  classes: number;
  counts: Uint32Array;
}

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  perClass: ClassScores[];
  accuracy: number;
  macro: ClassScores;
  weighted: ClassScores;
  total: number;
}

export function confusionMatrix(labels: ArrayLike<number>, predictions: ArrayLike<number>, classes: number): ConfusionMatrix {
  if (labels.length !== predictions.length) throw new Error(`confusionMatrix: ${labels.length} labels but ${predictions.length} predictions`);
  const counts = new Uint32Array(classes * classes);
  for (let i = 0; i < labels.length; i++) {
    const truth = labels[i]!;
    const guess = predictions[i]!;
    if (!(truth >= 0 && truth < classes && guess >= 0 && guess < classes)) {
      throw new Error(`confusionMatrix: sample ${i} has label ${truth}, prediction ${guess}, outside 0..${classes - 1}`);
    }
    counts[truth * classes + guess]!++;
  }
  return { classes, counts };
}

const ratio = (num: number, den: number) => (den === 0 ? 0 : num / den);

export function classificationReport(matrix: ConfusionMatrix): ClassificationReport {
  const { classes, counts } = matrix;
  const perClass: ClassScores[] = [];
  let correct = 0;
  let total = 0;
  for (let c = 0; c < classes; c++) {
    let support = 0;
    let predicted = 0;
    for (let k = 0; k < classes; k++) {
      support += counts[c * classes + k]!;
      predicted += counts[k * classes + c]!;
    }
    const hits = counts[c * classes + c]!;
    const precision = ratio(hits, predicted);
    const recall = ratio(hits, support);
    perClass.push({ precision, recall, f1: ratio(2 * precision * recall, precision + recall), support });
    correct += hits;
    total += support;
  }
  const average = (weight: (s: ClassScores) => number): ClassScores => {
    const sum = perClass.reduce((acc, s) => acc + weight(s), 0);
    const mean = (key: 'precision' | 'recall' | 'f1') => ratio(perClass.reduce((acc, s) => acc + weight(s) * s[key], 0), sum);
    return { precision: mean('precision'), recall: mean('recall'), f1: mean('f1'), support: total };
  };
  return { perClass, accuracy: ratio(correct, total), macro: average(() => 1), weighted: average((s) => s.support), total };
}

export function formatClassificationReport(report: ClassificationReport, classNames: string[], digits = 4): string {
  const nameWidth = Math.max(12, ...classNames.map((n) => n.length));
  const column = Math.max(9, digits + 2);
  const cell = (text: string) => ' ' + text.padStart(column);
  const number = (value: number) => cell(value.toFixed(digits));
  const row = (name: string, s: ClassScores) => name.padStart(nameWidth) + ' ' + number(s.precision) + number(s.recall) + number(s.f1) + cell(String(s.support));
  const lines = [' '.repeat(nameWidth + 1) + ['precision', 'recall', 'f1-score', 'support'].map(cell).join(''), ''];
  report.perClass.forEach((scores, c) => lines.push(row(classNames[c] ?? String(c), scores)));
  lines.push('');
  lines.push('accuracy'.padStart(nameWidth) + ' ' + cell('') + cell('') + number(report.accuracy) + cell(String(report.total)));
  lines.push(row('macro avg', report.macro));
  lines.push(row('weighted avg', report.weighted));
  return lines.join('\n') + '\n';
}

export function formatConfusionMatrix(matrix: ConfusionMatrix, classNames: string[]): string {
  const { classes, counts } = matrix;
  const names = Array.from({ length: classes }, (_, c) => classNames[c] ?? String(c));
  const labelWidth = Math.max('true \\ predicted'.length, ...names.map((n) => n.length));
  const width = Math.max(...names.map((n) => n.length), ...Array.from(counts, (v) => String(v).length)) + 1;
  const lines = ['true \\ predicted'.padEnd(labelWidth) + names.map((n) => n.padStart(width)).join('')];
  for (let t = 0; t < classes; t++) {
    let line = names[t]!.padEnd(labelWidth);
    for (let p = 0; p < classes; p++) line += String(counts[t * classes + p]).padStart(width);
    lines.push(line);
  }
  return lines.join('\n') + '\n';
}

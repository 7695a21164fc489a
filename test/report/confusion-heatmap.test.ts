import { describe, expect, it } from 'vitest';
import { confusionHeatmapSvg } from '../../src/report/confusion-heatmap.ts';
import { confusionMatrix } from '../../src/report/metrics.ts';
import { parseXmlElements } from '../helpers/xml.ts';

describe('confusionHeatmapSvg', () => {
  it('draws one shaded cell per pair with its count and escaped class names', () => {
    // true 0 → [8, 2], true 1 → [0, 1]
    const matrix = confusionMatrix([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1], 2);
    const elements = parseXmlElements(confusionHeatmapSvg(matrix, ['T-shirt/top', 'A&B']));
    const cells = elements.filter((e) => e.attributes.class === 'cell');
    expect(cells.map((c) => [c.attributes['data-true'], c.attributes['data-predicted'], c.attributes.fill])).toEqual([
      // Shade = white + (dark blue − white) × share of the row: 80% → 255 − 247·0.8 = 57.4, 255 − 207·0.8 = 89.4, 255 − 148·0.8 = 136.6.
      ['0', '0', 'rgb(57,89,137)'],
      ['0', '1', 'rgb(206,214,225)'], // 20%: 205.6, 213.6, 225.4
      ['1', '0', 'rgb(255,255,255)'],
      ['1', '1', 'rgb(8,48,107)'],
    ]);
    const texts = elements.filter((e) => e.name === 'text').map((e) => e.text);
    expect(texts).toEqual(expect.arrayContaining(['8', '2', '0', '1', 'T-shirt/top', 'A&amp;B', 'predicted', 'true']));
  });
});

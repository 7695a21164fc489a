import { describe, expect, it } from 'vitest';
import { escapeXml, niceTicks, tickLabel } from '../../src/report/svg.ts';
import { parseXmlElements } from '../helpers/xml.ts';

describe('svg helpers', () => {
  it('escapes markup characters', () => {
    expect(escapeXml(`a<b & "c" 'd'>`)).toBe('a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;');
  });

  it('chooses 1-2-5 steps that cover the domain', () => {
    expect(niceTicks(0, 2.31)).toEqual({ ticks: [0, 0.5, 1, 1.5, 2, 2.5], min: 0, max: 2.5, step: 0.5 });
    expect(niceTicks(0.913, 0.995).ticks).toEqual([0.9, 0.92, 0.94, 0.96, 0.98, 1]);
    expect(niceTicks(1, 10, 8).ticks).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(3, 3).ticks).toEqual([2.4, 2.6, 2.8, 3, 3.2, 3.4, 3.6]);
    expect([tickLabel(0.92, 0.02), tickLabel(4, 2), tickLabel(0.5, 0.5)]).toEqual(['0.92', '4', '0.5']);
  });

  it('the test-side XML checker catches malformed markup', () => {
    expect(parseXmlElements('<svg><text x="1">a &amp; b</text><rect/></svg>').map((e) => e.name)).toEqual(['svg', 'text', 'rect']);
    expect(() => parseXmlElements('<svg><text>a</svg>')).toThrow('</svg> closes <text>');
    expect(() => parseXmlElements('<svg><text>a & b</text></svg>')).toThrow('unescaped &');
    expect(() => parseXmlElements('<svg x=1></svg>')).toThrow('malformed XML');
    expect(() => parseXmlElements('<svg>')).toThrow('unclosed <svg>');
  });
});

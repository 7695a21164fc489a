// Comma-separated flags: every item is checked on its own, and an empty item or a non-decimal
// number is refused with the flag and the item named.
import { describe, expect, it } from 'vitest';
import { choiceList, numberList } from '../../src/node/list-flags.ts';
import { positive } from '../../src/node/args.ts';
import { refusal } from '../helpers/refusal.ts';

describe('numberList', () => {
  it('reads decimals, with spaces around the commas', () => {
    expect(numberList('lr', '1e-3, 3e-3,.01')).toEqual([1e-3, 3e-3, 0.01]);
    expect(numberList('batch-size', '32,64', { integer: true, check: positive })).toEqual([32, 64]);
  });

  it.each([
    ['1e-3,,3e-3', {}, '--lr: "1e-3,,3e-3" has an empty item; give values separated by commas'],
    ['1e-3,', {}, '--lr: "1e-3," has an empty item; give values separated by commas'],
    ['', {}, '--lr: "" has an empty item; give values separated by commas'],
    ['0x10', {}, '--lr: "0x10" is not a number'],
    ['1,Infinity', {}, '--lr: "Infinity" is not a number'],
    ['32,6.5', { integer: true }, '--lr: "6.5" is not an integer'],
    ['9007199254740993', { integer: true }, '--lr: "9007199254740993" is not an integer within ±9007199254740991 (2^53 − 1)'],
    ['1,-2', { check: positive }, '--lr: -2 must be a positive number'],
  ])('%j is refused', (raw, options, message) => {
    expect(refusal(() => numberList('lr', raw, options))).toBe(message);
  });
});

describe('choiceList', () => {
  it('reads known names and refuses unknown or empty ones', () => {
    expect(choiceList('optimizer', 'sgd, adam', ['sgd', 'adam'])).toEqual(['sgd', 'adam']);
    expect(refusal(() => choiceList('optimizer', 'sgd,rmsprop', ['sgd', 'adam']))).toBe('--optimizer: "rmsprop" is not one of sgd, adam');
    expect(refusal(() => choiceList('optimizer', 'sgd,', ['sgd', 'adam']))).toBe('--optimizer: "sgd," has an empty item; give values separated by commas');
  });
});

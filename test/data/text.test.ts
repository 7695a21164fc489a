// Character- and byte-level tokenizers: round trips on a real corpus and on characters outside the
// BMP, a vocabulary rebuilt from its saved list encoding the same, and errors that name the bad
// character or id and its position.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ByteTokenizer, CharTokenizer } from '../../src/data/text.ts';

const MOBY_DICK = new URL('../../../shared/data/text/moby-dick.txt', import.meta.url);

describe('CharTokenizer', () => {
  it('takes the corpus characters sorted by code point and round-trips text', () => {
    const t = CharTokenizer.fromCorpus('hello, world');
    expect(t.chars).toEqual([' ', ',', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
    expect(t.vocab).toBe(9);
    expect([...t.encode('low')]).toEqual([5, 6, 8]);
    expect(t.decode(t.encode('hello, world'))).toBe('hello, world');
  });

  it('counts a character outside the BMP as one token', () => {
    const text = 'a🐋b🐋';
    const t = CharTokenizer.fromCorpus(text);
    expect(t.chars).toEqual(['a', 'b', '🐋']);
    expect([...t.encode(text)]).toEqual([0, 2, 1, 2]);
    expect(t.decode(t.encode(text))).toBe(text);
  });

  it('round-trips Moby-Dick, and a tokenizer rebuilt from its saved vocabulary encodes the same', () => {
    const corpus = readFileSync(MOBY_DICK, 'utf8');
    const t = CharTokenizer.fromCorpus(corpus);
    const ids = t.encode(corpus);
    expect(ids.length).toBe([...corpus].length);
    expect(ids.every((id) => id < t.vocab)).toBe(true);
    expect(t.decode(ids) === corpus, 'decode(encode(corpus)) is the corpus').toBe(true);
    const restored = new CharTokenizer(JSON.parse(JSON.stringify(t.chars)) as string[]);
    expect(Buffer.from(restored.encode(corpus).buffer).equals(Buffer.from(ids.buffer)), 'the same ids').toBe(true);
  });

  it('names unknown characters, bad ids and bad vocabularies', () => {
    const t = CharTokenizer.fromCorpus('abc');
    expect(() => t.encode('abé')).toThrow('CharTokenizer.encode: character "é" (U+00E9) at position 2 is not in the vocabulary of 3 characters');
    expect(() => t.decode([0, 3])).toThrow('CharTokenizer.decode: id 3 at position 1 is outside 0..2');
    expect(() => CharTokenizer.fromCorpus('')).toThrow('the corpus is empty');
    expect(() => new CharTokenizer(['a', 'bc'])).toThrow('CharTokenizer: vocabulary entry 1 must be one character, got "bc"');
    expect(() => new CharTokenizer(['a', 'b', 'a'])).toThrow('CharTokenizer: character "a" (U+0061) appears twice in the vocabulary (entries 0 and 2)');
  });
});

describe('ByteTokenizer', () => {
  it('encodes UTF-8 bytes and decodes them back', () => {
    const t = new ByteTokenizer();
    expect(t.vocab).toBe(256);
    expect([...t.encode('aé🐋')]).toEqual([0x61, 0xc3, 0xa9, 0xf0, 0x9f, 0x90, 0x8b]);
    expect(t.decode(t.encode('Call me Ishmael. 🐋'))).toBe('Call me Ishmael. 🐋');
    expect(t.decode([0x61, 0xc3])).toBe('a\ufffd');
    expect(() => t.decode([1, 256])).toThrow('ByteTokenizer.decode: id 256 at position 1 is not a byte (0..255)');
  });
});

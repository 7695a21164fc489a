// Character- and byte-level tokenizers: round trips on a real corpus and on characters outside the
// BMP, a vocabulary rebuilt from its saved list encoding the same, each tokenizer rebuilt from its
// description (as a checkpoint stores it), and errors that name the bad character or id and its position.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ByteTokenizer, CharTokenizer, tokenizerFromDescription, type TokenizerDescription } from '../../src/data/text.ts';

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

describe('tokenizer descriptions', () => {
  it('a char tokenizer describes its vocabulary in id order and is rebuilt from it through JSON', () => {
    const text = 'Call me Ishmael. 🐋\n';
    const t = CharTokenizer.fromCorpus(text);
    const description = t.describe();
    expect(description).toEqual({ kind: 'char', chars: t.chars });
    const rebuilt = tokenizerFromDescription(JSON.parse(JSON.stringify(description)) as TokenizerDescription);
    expect(rebuilt).toBeInstanceOf(CharTokenizer);
    expect([...rebuilt.encode(text)]).toEqual([...t.encode(text)]);
    expect(rebuilt.decode(t.encode(text))).toBe(text);
  });

  it('the description is a copy: changing it leaves the tokenizer as it was', () => {
    const t = CharTokenizer.fromCorpus('abc');
    const description = t.describe() as { kind: 'char'; chars: string[] };
    description.chars[0] = 'z';
    expect(t.decode([0])).toBe('a');
  });

  it('a byte tokenizer describes itself by kind alone', () => {
    const description = new ByteTokenizer().describe();
    expect(description).toEqual({ kind: 'byte' });
    const rebuilt = tokenizerFromDescription(description);
    expect(rebuilt.vocab).toBe(256);
    expect([...rebuilt.encode('é')]).toEqual([0xc3, 0xa9]);
  });

  it('refuses an unknown kind and a bad character list by name', () => {
    expect(() => tokenizerFromDescription({ kind: 'bpe' } as never)).toThrow('tokenizerFromDescription: kind is "bpe"; must be "char" or "byte"');
    expect(() => tokenizerFromDescription(null as never)).toThrow('tokenizerFromDescription: kind is undefined; must be "char" or "byte"');
    expect(() => tokenizerFromDescription({ kind: 'char', chars: ['a', 'a'] })).toThrow('CharTokenizer: character "a" (U+0061) appears twice in the vocabulary (entries 0 and 1)');
    expect(() => tokenizerFromDescription({ kind: 'char', chars: 'ab' } as never)).toThrow('CharTokenizer: the vocabulary must be a non-empty list of characters');
  });
});

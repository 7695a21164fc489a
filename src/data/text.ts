// Tokenizers for language-model training on any UTF-8 text: character-level (the vocabulary is the
// corpus's distinct characters, sorted, and is part of what a checkpoint must keep) and byte-level
// (the 256 byte values of the UTF-8 encoding, nothing to keep). A tokenizer describes itself as plain
// JSON (a checkpoint stores it under metadata key `tokenizer`) and tokenizerFromDescription rebuilds it.
// Browser-safe.

/** What a checkpoint keeps of a tokenizer: a character vocabulary in id order, or nothing for bytes. */
export type TokenizerDescription = { kind: 'char'; chars: string[] } | { kind: 'byte' };

export interface Tokenizer {
  /** Token ids run 0..vocab-1. */
  readonly vocab: number;
  encode(text: string): Uint32Array;
  decode(ids: ArrayLike<number>): string;
  describe(): TokenizerDescription;
}

/** Characters are Unicode code points, so a character outside the BMP is one token, not two. */
export class CharTokenizer implements Tokenizer {
  readonly vocab: number;
  private readonly ids = new Map<string, number>();

  /** From a saved vocabulary: each entry one character, no repeats; the id is its position. */
  constructor(readonly chars: readonly string[]) {
    if (!Array.isArray(chars) || chars.length === 0) throw new Error('CharTokenizer: the vocabulary must be a non-empty list of characters');
    chars.forEach((c, i) => {
      if (typeof c !== 'string' || [...c].length !== 1) throw new Error(`CharTokenizer: vocabulary entry ${i} must be one character, got ${JSON.stringify(c)}`);
      if (this.ids.has(c)) throw new Error(`CharTokenizer: character ${describeChar(c)} appears twice in the vocabulary (entries ${this.ids.get(c)} and ${i})`);
      this.ids.set(c, i);
    });
    this.vocab = chars.length;
  }

  /** The distinct characters of `corpus`, sorted by code point. */
  static fromCorpus(corpus: string): CharTokenizer {
    const distinct = [...new Set(corpus)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    if (distinct.length === 0) throw new Error('CharTokenizer.fromCorpus: the corpus is empty');
    return new CharTokenizer(distinct);
  }

  encode(text: string): Uint32Array {
    const chars = [...text];
    const out = new Uint32Array(chars.length);
    chars.forEach((c, i) => {
      const id = this.ids.get(c);
      if (id === undefined) throw new Error(`CharTokenizer.encode: character ${describeChar(c)} at position ${i} is not in the vocabulary of ${this.vocab} characters`);
      out[i] = id;
    });
    return out;
  }

  describe(): TokenizerDescription {
    return { kind: 'char', chars: [...this.chars] };
  }

  decode(ids: ArrayLike<number>): string {
    const chars = new Array<string>(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const c = this.chars[ids[i]!];
      if (c === undefined) throw new Error(`CharTokenizer.decode: id ${ids[i]} at position ${i} is outside 0..${this.vocab - 1}`);
      chars[i] = c;
    }
    return chars.join('');
  }
}

/** UTF-8 bytes as tokens (vocab 256); decoding malformed bytes gives U+FFFD, as TextDecoder does. */
export class ByteTokenizer implements Tokenizer {
  readonly vocab = 256;

  encode(text: string): Uint32Array {
    return Uint32Array.from(new TextEncoder().encode(text));
  }

  describe(): TokenizerDescription {
    return { kind: 'byte' };
  }

  decode(ids: ArrayLike<number>): string {
    const bytes = new Uint8Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id > 255) throw new Error(`ByteTokenizer.decode: id ${id} at position ${i} is not a byte (0..255)`);
      bytes[i] = id;
    }
    return new TextDecoder().decode(bytes);
  }
}

/** The tokenizer a description names; a character list is checked as CharTokenizer's constructor checks it. */
export function tokenizerFromDescription(description: TokenizerDescription): Tokenizer {
  const kind = (description as { kind?: unknown } | null)?.kind;
  if (kind === 'byte') return new ByteTokenizer();
  if (kind === 'char') return new CharTokenizer((description as { chars: string[] }).chars);
  throw new Error(`tokenizerFromDescription: kind is ${JSON.stringify(kind)}; must be "char" or "byte"`);
}

function describeChar(c: string): string {
  return `${JSON.stringify(c)} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`;
}

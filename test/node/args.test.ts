import { resolve } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { between, fraction, helpText, parseArgs, positive, seedRange, UsageError } from '../../src/node/args.ts';

const train = {
  name: 'train-mnist',
  summary: 'Train a network on MNIST.',
  flags: {
    epochs: { type: 'int', default: 10, check: positive, help: 'passes over the training set' },
    lr: { type: 'float', default: 0.001, check: positive, help: 'learning rate' },
    'val-split': { type: 'float', default: 0.1, check: fraction, help: 'held-out fraction of the training set' },
    optimizer: { type: 'enum', choices: ['sgd', 'momentum', 'adam', 'adamw'], default: 'adam', help: 'update rule' },
    augment: { type: 'bool', help: 'random shifts and rotations' },
    data: { type: 'path', help: 'folder with the IDX files' },
    tag: { type: 'string', help: 'run name' },
    shift: { type: 'int', check: between(-3, 3), help: 'pixels' },
    seed: { type: 'int', check: seedRange, help: 'seed' },
  },
} as const;

const parse = (...argv: string[]) => parseArgs(argv, train);

describe('parseArgs', () => {
  it('applies defaults and types the result', () => {
    const { flags, positionals, help } = parse();
    expect(flags).toEqual({ epochs: 10, lr: 0.001, 'val-split': 0.1, optimizer: 'adam', augment: false, data: undefined, tag: undefined, shift: undefined, seed: undefined });
    expect([positionals, help]).toEqual([[], false]);
    expectTypeOf(flags.epochs).toEqualTypeOf<number>();
    expectTypeOf(flags.optimizer).toEqualTypeOf<'sgd' | 'momentum' | 'adam' | 'adamw'>();
    expectTypeOf(flags.augment).toEqualTypeOf<boolean>();
    expectTypeOf(flags.data).toEqualTypeOf<string | undefined>();
  });

  it('reads --flag value, --flag=value, booleans, negative numbers and paths', () => {
    const { flags } = parse('--epochs', '3', '--lr=0.5', '--optimizer', 'sgd', '--augment', '--data', 'some/dir', '--tag=a=b', '--shift', '-2');
    expect(flags).toMatchObject({ epochs: 3, lr: 0.5, optimizer: 'sgd', augment: true, data: resolve('some/dir'), tag: 'a=b', shift: -2 });
    expect(parse('--no-augment').flags.augment).toBe(false);
    expect(parse('--augment=false').flags.augment).toBe(false);
    expect(parse('--augment=true').flags.augment).toBe(true);
    expect(parse('--lr', '1e-3').flags.lr).toBe(0.001);
  });

  it('takes the decimal forms a user types, up to the edges of what is exact', () => {
    expect(parse('--lr', '.5').flags.lr).toBe(0.5);
    expect(parse('--lr', '5.').flags.lr).toBe(5);
    expect(parse('--lr', '+2E-3').flags.lr).toBe(0.002);
    expect(parse('--epochs', '9007199254740991').flags.epochs).toBe(Number.MAX_SAFE_INTEGER);
    expect(parse('--seed', '4294967295').flags.seed).toBe(2 ** 32 - 1);
    expect(parse('--epochs', ' 7 ').flags.epochs).toBe(7);
  });

  it('says which flags were given, so a default can be told from the same value typed', () => {
    expect([...parse('--epochs', '10', '--no-augment').given].sort()).toEqual(['augment', 'epochs']);
    expect(parse().given.size).toBe(0);
  });

  it('recognises help anywhere and skips positional checks for it', () => {
    expect(parse('--epochs', '2', '-h').help).toBe(true);
    expect(parseArgs(['--help'], { ...train, positionals: [{ name: 'image', help: 'a PNG', required: true }] }).help).toBe(true);
  });

  it('handles positionals and "--"', () => {
    const predict = { ...train, name: 'predict', positionals: [{ name: 'image', help: 'a PNG file', required: true }] };
    expect(parseArgs(['digit.png', '--epochs', '1'], predict).positionals).toEqual(['digit.png']);
    expect(parseArgs(['--', '--odd-name.png'], predict).positionals).toEqual(['--odd-name.png']);
    expect(() => parseArgs([], predict)).toThrow('missing <image>: a PNG file');
    expect(() => parseArgs(['a.png', 'b.png'], predict)).toThrow('unexpected argument "b.png"');
    expect(() => parse('stray')).toThrow('unexpected argument "stray" (train-mnist takes only flags)');
  });

  it('names the flag, the value and what is valid', () => {
    const cases: Array<[string[], string]> = [
      [['--optimizer', 'rmsprop'], '--optimizer: "rmsprop" is not one of sgd, momentum, adam, adamw'],
      [['--lr', '-1'], '--lr: must be a positive number, got "-1"'],
      [['--lr=abc'], '--lr: must be a number, got "abc"'],
      [['--epochs', '2.5'], '--epochs: must be an integer, got "2.5"'],
      [['--epochs', '0'], '--epochs: must be a positive number, got "0"'],
      [['--val-split', '1'], '--val-split: must be in [0, 1), got "1"'],
      [['--shift', '4'], '--shift: must be in [-3, 3], got "4"'],
      [['--augment=yes'], '--augment: must be true or false, got "yes"'],
      [['--epoch', '3'], 'unknown flag --epoch (did you mean --epochs?)'],
      [['--optimiser=sgd'], 'unknown flag --optimiser (did you mean --optimizer?)'],
      [['--val', '0.2'], 'unknown flag --val (did you mean --val-split?)'],
      [['--banana'], 'unknown flag --banana'],
      [['--lr'], '--lr: needs a value (a number, a positive number)'],
      [['--optimizer', '--augment'], '--optimizer: needs a value (one of sgd, momentum, adam, adamw)'],
      [['--lr', '1', '--lr', '2'], '--lr: given more than once'],
      [['--lr', '0x10'], '--lr: must be a number, got "0x10"'],
      [['--lr', '0b11'], '--lr: must be a number, got "0b11"'],
      [['--lr', '0o7'], '--lr: must be a number, got "0o7"'],
      [['--lr', 'Infinity'], '--lr: must be a number, got "Infinity"'],
      [['--lr', '1e400'], '--lr: must be a number, got "1e400"'],
      [['--lr', '1_000'], '--lr: must be a number, got "1_000"'],
      [['--epochs', '0x10'], '--epochs: must be an integer, got "0x10"'],
      [['--epochs', '1e3'], '--epochs: must be an integer, got "1e3"'],
      [['--epochs', '9007199254740993'], '--epochs: must be an integer within ±9007199254740991 (2^53 − 1), got "9007199254740993"'],
      [['--shift', '-9007199254740993'], '--shift: must be an integer within ±9007199254740991 (2^53 − 1), got "-9007199254740993"'],
      [['--seed', '4294967296'], '--seed: must be in [0, 4294967295], got "4294967296"'],
      [['--seed', '-1'], '--seed: must be in [0, 4294967295], got "-1"'],
    ];
    for (const [argv, message] of cases) {
      let error: unknown;
      try {
        parse(...argv);
      } catch (caught) {
        error = caught;
      }
      expect(error, argv.join(' ')).toBeInstanceOf(UsageError);
      expect((error as Error).message).toBe(message);
    }
  });
});

describe('helpText', () => {
  it('lists every flag with its type, default and constraint', () => {
    const text = helpText({ ...train, positionals: [{ name: 'image', help: 'a PNG file', required: true }] });
    const lines = text.split('\n');
    expect(lines[0]).toBe('Usage: train-mnist [options] <image>');
    expect(lines).toContain('Train a network on MNIST.');
    expect(text).toMatch(/ {2}<image> +a PNG file\n/);
    expect(text).toMatch(/ {2}--epochs <int> +passes over the training set \(a positive number; default: 10\)\n/);
    expect(text).toMatch(/ {2}--optimizer <sgd\|momentum\|adam\|adamw> +update rule \(default: adam\)\n/);
    expect(text).toMatch(/ {2}--augment +random shifts and rotations\n/);
    expect(text).toMatch(/ {2}-h, --help +show this help\n/);
    // Every description starts in the same column.
    const columns = lines.filter((l) => l.startsWith('  ')).map((l) => l.search(/\S {2,}\S/) + l.match(/\S {2,}/)![0].length);
    expect(new Set(columns).size).toBe(1);
  });
});

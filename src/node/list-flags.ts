// Comma-separated flag values (--lr 1e-3,3e-3), checked item by item with errors that name the flag.
import { parseDecimal, UsageError, type NumberCheck } from './args.ts';

function items(flag: string, raw: string): string[] {
  const parts = raw.split(',').map((part) => part.trim());
  if (parts.some((part) => part === '')) throw new UsageError(`--${flag}: "${raw}" has an empty item; give values separated by commas`);
  return parts;
}

export function numberList(flag: string, raw: string, options: { integer?: boolean; check?: NumberCheck } = {}): number[] {
  return items(flag, raw).map((part) => {
    const value = parseDecimal(part, options.integer ?? false);
    if (typeof value === 'string') throw new UsageError(`--${flag}: "${part}" is not ${value}`);
    if (options.check && !options.check.test(value)) throw new UsageError(`--${flag}: ${part} must be ${options.check.describe}`);
    return value;
  });
}

export function choiceList<const Choice extends string>(flag: string, raw: string, choices: readonly Choice[]): Choice[] {
  return items(flag, raw).map((part) => {
    if (!(choices as readonly string[]).includes(part)) throw new UsageError(`--${flag}: "${part}" is not one of ${choices.join(', ')}`);
    return part as Choice;
  });
}

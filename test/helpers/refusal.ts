// The message of the UsageError a call throws, failing the test if it throws nothing or another kind.
import { expect } from 'vitest';
import { UsageError } from '../../src/node/args.ts';

export function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('expected a UsageError');
}

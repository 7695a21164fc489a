// The checkers every JSON field a file brings is read through: each takes a value and the path of
// the field it came from and returns it typed, or throws a FieldError naming that path. Objects are
// read through their own properties only and unknown fields are refused, so a file cannot smuggle
// in a prototype name or a field a reader would ignore. Used by the checkpoint schema
// (src/io/checkpoint-schema.ts) and the model graph (src/io/model-graph.ts).

export class FieldError extends Error {
  constructor(readonly field: string, problem: string) {
    super(problem);
  }
}

export type Check<T> = (value: unknown, field: string) => T;

export const show = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : Array.isArray(value) ? 'a list' : value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value));

export function integer(min: number, max: number): Check<number> {
  return (value, field) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new FieldError(field, `is ${show(value)}; must be a whole number in [${min}, ${max}]`);
    return value;
  };
}

export interface Range { min?: number; above?: number; max?: number; below?: number }

export function real(range: Range): Check<number> {
  const bounds = [
    range.min !== undefined ? `≥ ${range.min}` : range.above !== undefined ? `> ${range.above}` : '',
    range.max !== undefined ? `≤ ${range.max}` : range.below !== undefined ? `< ${range.below}` : '',
  ].filter(Boolean).join(' and ');
  return (value, field) => {
    const fits = typeof value === 'number' && Number.isFinite(value)
      && (range.min === undefined || value >= range.min) && (range.above === undefined || value > range.above)
      && (range.max === undefined || value <= range.max) && (range.below === undefined || value < range.below);
    if (!fits) throw new FieldError(field, `is ${show(value)}; must be a finite number${bounds ? ` ${bounds}` : ''}`);
    return value as number;
  };
}

export const boolean: Check<boolean> = (value, field) => {
  if (typeof value !== 'boolean') throw new FieldError(field, `is ${show(value)}; must be true or false`);
  return value;
};

export function text(maxLength: number): Check<string> {
  return (value, field) => {
    if (typeof value !== 'string' || value.length > maxLength) throw new FieldError(field, `is ${show(value)}; must be a string of at most ${maxLength} characters`);
    return value;
  };
}

export function oneOf<T extends string>(choices: readonly T[]): Check<T> {
  return (value, field) => {
    if (typeof value !== 'string' || !choices.includes(value as T)) throw new FieldError(field, `is ${show(value)}; must be one of ${choices.join(', ')}`);
    return value as T;
  };
}

export function list<T>(item: Check<T>, length: { min: number; max: number }): Check<T[]> {
  return (value, field) => {
    if (!Array.isArray(value) || value.length < length.min || value.length > length.max) {
      throw new FieldError(field, `is ${Array.isArray(value) ? `a list of ${value.length}` : show(value)}; must be a list of ${length.min === length.max ? length.min : `${length.min} to ${length.max}`} entries`);
    }
    return value.map((entry, i) => item(entry, `${field}[${i}]`));
  };
}

export function tuple<T>(items: Check<T>[]): Check<T[]> {
  return (value, field) => {
    if (!Array.isArray(value) || value.length !== items.length) throw new FieldError(field, `is ${Array.isArray(value) ? `a list of ${value.length}` : show(value)}; must be a list of ${items.length} entries`);
    return items.map((item, i) => item(value[i], `${field}[${i}]`));
  };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export type Fields = Record<string, { check: Check<unknown>; optional?: boolean }>;
export type Shaped<F extends Fields> = { [K in keyof F as F[K]['optional'] extends true ? never : K]: ReturnType<F[K]['check']> }
  & { [K in keyof F as F[K]['optional'] extends true ? K : never]?: ReturnType<F[K]['check']> };

export const required = <T>(check: Check<T>) => ({ check });
export const optional = <T>(check: Check<T>) => ({ check, optional: true as const });

/** An object with exactly these fields (optional ones may be absent), read as own properties. */
export function object<F extends Fields>(fields: F): Check<Shaped<F>> {
  return (value, field) => {
    if (!isPlainObject(value)) throw new FieldError(field, `is ${show(value)}; must be an object`);
    const unknown = Object.keys(value).filter((key) => !Object.hasOwn(fields, key));
    if (unknown.length) throw new FieldError(field, `has unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${Object.keys(fields).join(', ') || 'none'})`);
    const out: Record<string, unknown> = {};
    for (const [key, { check, optional: isOptional }] of Object.entries(fields)) {
      const at = field ? `${field}.${key}` : key;
      if (!Object.hasOwn(value, key)) {
        if (!isOptional) throw new FieldError(at, 'is missing');
        continue;
      }
      out[key] = check(value[key], at);
    }
    return out as Shaped<F>;
  };
}

/** Any own keys, each value checked. */
export function record<T>(item: Check<T>): Check<Record<string, T>> {
  return (value, field) => {
    if (!isPlainObject(value)) throw new FieldError(field, `is ${show(value)}; must be an object`);
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, item(entry, `${field}.${JSON.stringify(key)}`)]));
  };
}

/** One object schema per value of its "kind" field. */
export function byKind<T>(kinds: Record<string, Check<unknown>>): Check<T> {
  return (value, field) => {
    if (!isPlainObject(value)) throw new FieldError(field, `is ${show(value)}; must be an object`);
    const kind = oneOf(Object.keys(kinds))(Object.hasOwn(value, 'kind') ? value.kind : undefined, `${field}.kind`);
    return kinds[kind]!(value, field) as T;
  };
}

export function json<T>(check: Check<T>): Check<T> {
  return (value, field) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value as string);
    } catch (error) {
      throw new FieldError(field, `is not valid JSON (${(error as Error).message})`);
    }
    return check(parsed, field);
  };
}

export function withSource<T>(source: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof FieldError) throw new Error(`${source}: metadata ${error.field} ${error.message}`);
    throw error;
  }
}

// The safetensors format (Hugging Face): the file PyTorch, JAX and friends use to exchange tensors.
// Browser-safe: bytes in, bytes out, no file system.
//
//   encodeSafetensors(tensors, metadata?) → Uint8Array
//   decodeSafetensors(bytes, source?)     → { tensors, metadata }; every fault names `source` and the tensor
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON, then the data section.
// The JSON maps each tensor name to { dtype, shape, data_offsets: [begin, end] } (offsets relative
// to the data section) and may hold "__metadata__", a map of strings. We write names in sorted
// order, data contiguous in that order, and pad the JSON with spaces so the data starts 8-byte
// aligned, as the reference implementation does. Tensor bytes are little-endian, the byte order of
// every platform WebGPU runs on, so typed arrays are used as they are.

export type TensorData =
  | Float64Array | Float32Array | BigInt64Array | Int32Array | Int16Array | Int8Array
  | BigUint64Array | Uint32Array | Uint16Array | Uint8Array;

export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

type TypedArrayClass = { new (buffer: ArrayBuffer): TensorData; readonly BYTES_PER_ELEMENT: number; readonly name: string };

const DTYPES = {
  F64: Float64Array, F32: Float32Array, I64: BigInt64Array, I32: Int32Array, I16: Int16Array, I8: Int8Array,
  U64: BigUint64Array, U32: Uint32Array, U16: Uint16Array, U8: Uint8Array, BOOL: Uint8Array,
} satisfies Record<string, TypedArrayClass>;

export type SafetensorsDtype = keyof typeof DTYPES;

// Formats the spec defines that have no JavaScript typed array to hold them.
const KNOWN_UNSUPPORTED = ['F16', 'BF16', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64'];

const METADATA_KEY = '__metadata__';

/** The reference implementation's cap on the JSON header, checked before any of it is read. */
export const MAX_HEADER_BYTES = 100_000_000;

const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function isDtype(dtype: string): dtype is SafetensorsDtype {
  return Object.hasOwn(DTYPES, dtype);
}

export function encodeSafetensors(tensors: ReadonlyMap<string, SafeTensor>, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const name of names) {
    if (name === METADATA_KEY) throw new Error(`safetensors: "${METADATA_KEY}" is reserved and cannot name a tensor`);
    const { dtype, shape, data } = tensors.get(name)!;
    const kind = DTYPES[dtype];
    if (!(data instanceof kind)) throw new Error(`safetensors: tensor ${name}: dtype ${dtype} needs a ${kind.name}, got a ${data.constructor.name}`);
    if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`safetensors: tensor ${name}: bad shape [${shape.join(', ')}]`);
    if (data.length !== elementCount(shape)) {
      throw new Error(`safetensors: tensor ${name}: shape [${shape.join(', ')}] holds ${elementCount(shape)} values, data has ${data.length}`);
    }
    header[name] = { dtype, shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  const jsonBytes = new TextEncoder().encode(json);
  const padded = Math.ceil(jsonBytes.length / 8) * 8;
  json += ' '.repeat(padded - jsonBytes.length);
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(new TextEncoder().encode(json), 8);
  let at = 8 + padded;
  for (const name of names) {
    const { data } = tensors.get(name)!;
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Why a list of sizes or offsets is malformed, or null: each entry must be a whole number ≥ 0. */
function badIndexList(field: string, value: unknown, length?: number): string | null {
  if (value === undefined) return `no ${field}`;
  const form = length === 2 ? '[begin, end]' : 'a list of sizes';
  if (!Array.isArray(value) || (length !== undefined && value.length !== length)) return `${field} must be ${form}, got ${JSON.stringify(value)}`;
  const bad = value.find((v) => !isIndex(v));
  return bad === undefined ? null : `${field} ${JSON.stringify(value)}: ${JSON.stringify(bad)} is not a whole number ≥ 0`;
}

/**
 * The path to the first key that appears twice in one JSON object, or null. JSON.parse keeps the
 * last of duplicates silently, so they are found in the text (already known to be valid JSON).
 */
function duplicateKey(json: string): string[] | null {
  const open: { keys: Set<string> | null; name: string }[] = [];
  let lastKey = '';
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      const keys = open.at(-1)?.keys;
      if (keys && expectKey) {
        const key = JSON.parse(json.slice(i, end + 1)) as string;
        if (keys.has(key)) return [...open.slice(1).map((o) => o.name), key];
        keys.add(key);
        lastKey = key;
        expectKey = false;
      }
      i = end;
    } else if (c === '{' || c === '[') {
      open.push({ keys: c === '{' ? new Set() : null, name: lastKey });
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      expectKey = open.at(-1)?.keys != null;
    }
  }
  return null;
}

function describeDuplicate(path: string[]): string {
  const key = JSON.stringify(path.at(-1));
  if (path.length === 1) return `tensor name ${key} appears twice in the header`;
  if (path.length === 2 && path[0] === METADATA_KEY) return `${METADATA_KEY} key ${key} appears twice`;
  return `key ${key} appears twice in ${path.slice(0, -1).join('.')}`;
}

export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  const fail = (message: string): Error => new Error(`${source}: ${message}`);
  if (bytes.length < 8) throw fail(`${bytes.length} bytes is too short for a safetensors file (an 8-byte header length comes first)`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) throw fail(`header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte cap on safetensors headers`);
  if (headerLength > BigInt(bytes.length - 8)) {
    throw fail(`header length ${headerLength} runs beyond the file's ${bytes.length} bytes (truncated, or not a safetensors file)`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  let json: string;
  try {
    json = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart));
    header = JSON.parse(json);
  } catch (error) {
    throw fail(`header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('header is not a JSON object');
  const duplicate = duplicateKey(json);
  if (duplicate) throw fail(`${describeDuplicate(duplicate)} (JSON readers would silently keep only the last)`);

  const rawMetadata = Object.hasOwn(header, METADATA_KEY) ? (header as Record<string, unknown>)[METADATA_KEY] : {};
  if (typeof rawMetadata !== 'object' || rawMetadata === null || Array.isArray(rawMetadata)) throw fail(`${METADATA_KEY} is not a map of strings`);
  for (const [key, value] of Object.entries(rawMetadata)) if (typeof value !== 'string') throw fail(`${METADATA_KEY}.${key} is not a string`);
  // fromEntries defines own properties, so a key such as "__proto__" stays a key, not a prototype.
  const metadata = Object.fromEntries(Object.entries(rawMetadata)) as Record<string, string>;

  const dataLength = bytes.length - dataStart;
  const spans: { name: string; begin: number; end: number }[] = [];
  const tensors = new Map<string, SafeTensor>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) continue;
    const bad = (message: string): Error => fail(`tensor ${name}: ${message}`);
    if (typeof entry !== 'object' || entry === null) throw bad('entry is not an object');
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string') throw bad(dtype === undefined ? 'no dtype' : `dtype ${JSON.stringify(dtype)} is not a string`);
    const malformed = badIndexList('shape', shape) ?? badIndexList('data_offsets', offsets, 2);
    if (malformed) throw bad(malformed);
    if (!isDtype(dtype)) {
      const why = KNOWN_UNSUPPORTED.includes(dtype) ? 'is not supported yet' : 'is not a safetensors dtype';
      throw bad(`dtype ${dtype} ${why} (supported: ${Object.keys(DTYPES).join(', ')})`);
    }
    const [begin, end] = offsets as [number, number];
    const sizes = shape as number[];
    if (begin > end || end > dataLength) throw bad(`data_offsets [${begin}, ${end}] are outside the ${dataLength}-byte data section`);
    const kind = DTYPES[dtype];
    const expected = elementCount(sizes) * kind.BYTES_PER_ELEMENT;
    if (end - begin !== expected) {
      throw bad(`data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${dtype} [${sizes.join(', ')}] needs ${expected}`);
    }
    if (end > begin) spans.push({ name, begin, end }); // empty tensors own no bytes to overlap
    // A copy into its own aligned buffer (not bytes.slice: on a Node Buffer that is a view of a shared pool).
    const own = new Uint8Array(end - begin);
    own.set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { dtype, shape: sizes, data: new kind(own.buffer) });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < spans.length; i++) {
    const previous = spans[i - 1]!;
    const current = spans[i]!;
    if (current.begin < previous.end) {
      throw fail(`tensor ${current.name}: data_offsets [${current.begin}, ${current.end}] overlap tensor ${previous.name} [${previous.begin}, ${previous.end}]`);
    }
  }
  return { tensors, metadata };
}

// Table-driven reflected CRCs: CRC-32 (PNG chunks, polynomial 0xEDB88320) and CRC-32C
// (Castagnoli, TFRecord framing, polynomial 0x82F63B78). Both start at ~0 and end inverted.

function makeTable(polynomial: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? polynomial ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

const CRC32_TABLE = makeTable(0xedb88320);
const CRC32C_TABLE = makeTable(0x82f63b78);

function crc(table: Uint32Array, bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = table[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function crc32(bytes: Uint8Array): number {
  return crc(CRC32_TABLE, bytes);
}

export function crc32c(bytes: Uint8Array): number {
  return crc(CRC32C_TABLE, bytes);
}

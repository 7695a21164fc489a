// Browser edge for small persistent state: kept in memory for the page's lifetime.
const memory = new Map<string, string>();

export async function readCached(name: string): Promise<string | null> {
  return memory.get(name) ?? null;
}

export async function writeCached(name: string, text: string): Promise<void> {
  memory.set(name, text);
}

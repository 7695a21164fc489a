// Keeps Dawn's adapter start-up notices out of every script's output (Node only; imported by
// provider-node.ts alone). While requestAdapter() enumerates physical devices, Dawn clamps two of each
// adapter's limits to its own maximum and says so with fprintf(stderr) from native code
// ("maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 …"). It happens before
// any device exists, for every adapter, whatever limits we later request, and no Dawn toggle or
// dawn.node flag turns it off. So that one synchronous native call runs with descriptor 2 pointed at a
// temporary file, and everything else it wrote there is passed on to the real stderr.
import { closeSync, constants, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LIMIT_NOTICE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

/** `text` without Dawn's limit-clamping notices; every other line is kept as it was. */
export function withoutLimitNotices(text: string): string {
  return text.split('\n').filter((line) => !LIMIT_NOTICE.test(line)).join('\n');
}

const STDERR = 2;

/**
 * A second descriptor for what stderr points at, or null where swapping descriptor 2 is not safe:
 * no /dev/fd (Windows); a regular file, whose write offset `>log 2>&1` shares with stdout and a
 * reopened file would not; a socket, which cannot be reopened; descriptors 0 or 1 closed, so that the
 * next open would not land on 2.
 */
function reopenStderr(): { fd: number; flags: number } | null {
  if (process.platform === 'win32') return null;
  try {
    fstatSync(0);
    fstatSync(1);
    const target = fstatSync(STDERR);
    if (!target.isFIFO() && !target.isCharacterDevice()) return null;
    // A pipe's reopened end is non-blocking so that a reader that went away fails the open
    // instead of hanging it; libuv makes stdio pipes non-blocking anyway.
    const flags = constants.O_WRONLY | constants.O_NOCTTY | (target.isFIFO() ? constants.O_NONBLOCK : 0);
    return { fd: openSync(`/dev/fd/${STDERR}`, flags), flags };
  } catch {
    return null;
  }
}

/**
 * Runs `call`, a synchronous call into Dawn, with its stderr filtered through withoutLimitNotices.
 * POSIX hands out the lowest free descriptor, so closing 2 and opening the capture file puts the
 * capture on 2, and the same again puts the reopened stderr back; nothing else runs on this thread in
 * between. Should another thread's open take descriptor 2 in that instant, the capture is abandoned
 * (stderr then stays with that thread's file; there is no dup2 in Node to take it back).
 */
export function filterDawnNotices<T>(call: () => T): T {
  const original = reopenStderr();
  if (original === null) return call();
  let folder: string;
  try {
    folder = mkdtempSync(join(tmpdir(), 'webgrad-dawn-'));
  } catch {
    closeSync(original.fd);
    return call();
  }
  const capturePath = join(folder, 'stderr');
  closeSync(STDERR);
  const capture = openSync(capturePath, 'w+');
  try {
    return call();
  } finally {
    closeSync(capture);
    if (capture === STDERR) restoreStderr(original, capturePath);
    closeSync(original.fd);
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Puts the reopened stderr back on descriptor 2 and passes on what was captured, less the notices. */
function restoreStderr(original: { fd: number; flags: number }, capturePath: string): void {
  try {
    openSync(`/dev/fd/${original.fd}`, original.flags);
  } catch {
    return; // the reader of stderr's pipe went away: there is nowhere left to write
  }
  const rest = withoutLimitNotices(readFileSync(capturePath, 'utf8'));
  if (rest) writeSync(STDERR, rest);
}

// Writes TensorBoard scalars to <logDir>/events.out.tfevents.<seconds>.<host>, the name
// TensorBoard scans for. Records are appended synchronously as they come, so a crashed run
// still leaves a readable log up to its last epoch.
//
//   const log = openEventFile(logDir); log.scalars(step, [{ tag: 'loss/train', value }]); log.close();
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileVersionRecord, scalarsRecord, type Scalar } from '../report/tensorboard.ts';

export interface EventFile {
  readonly path: string;
  scalars(step: number, values: Scalar[], wallTimeSeconds?: number): void;
  close(): void;
}

export function openEventFile(logDir: string, nowMs = Date.now()): EventFile {
  mkdirSync(logDir, { recursive: true });
  const path = join(logDir, `events.out.tfevents.${Math.floor(nowMs / 1000)}.${hostname()}`);
  const fd = openSync(path, 'wx');
  writeSync(fd, fileVersionRecord(nowMs / 1000));
  let open = true;
  return {
    path,
    scalars(step, values, wallTimeSeconds = Date.now() / 1000) {
      if (!open) throw new Error(`${path}: event file is closed`);
      writeSync(fd, scalarsRecord(step, values, wallTimeSeconds));
    },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

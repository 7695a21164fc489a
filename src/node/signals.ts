// How every command answers SIGINT and SIGTERM: by default it exits at once with 130 / 143; while a
// training loop runs under `stopAfterStepOnSignal`, the first signal asks the loop to stop after its
// current step (the command then saves and returns the code itself) and another one quits at once.
//
// These handlers only see signals that reach this process. `npx tsx script.ts` puts npm, `sh -c`
// and tsx's CLI above it, and a signal sent to npx alone never gets here (README, exit codes), so
// the documented commands run the script as the top process: `node --import tsx script.ts`.

export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof SIGNAL_EXIT_CODES;

/**
 * The same signal again this soon is one signal delivered twice, not a second request: GNU timeout
 * sends its signal to the child and then to the child's process group (which holds the child), and
 * tsx's CLI relays a signal the child already got from the terminal.
 */
const REPEAT_WINDOW_MS = 500;

/** What the installed listeners do with a signal; swapped while a training loop can stop cleanly. */
let answer: ((name: StopSignal) => void) | undefined;

function quitAtOnce(command: string, name: StopSignal, why: string): never {
  console.error(`\n${command}: ${name}: ${why}`);
  process.exit(SIGNAL_EXIT_CODES[name]);
}

/** tsx's CLI starts the script with its preflight module required, which `node --import tsx` does not. */
function startedByTsxCli(): boolean {
  return process.execArgv.some((arg) => /[\\/]tsx[\\/]dist[\\/]preflight\.c?js$/.test(arg));
}

function listen(): void {
  let last: { name: StopSignal; at: number } | undefined;
  for (const name of Object.keys(SIGNAL_EXIT_CODES) as StopSignal[]) {
    process.on(name, () => {
      const now = performance.now();
      if (last?.name === name && now - last.at < REPEAT_WINDOW_MS) return;
      last = { name, at: now };
      answer?.(name);
    });
  }
}

/** Installs the listeners (once) with the default answer: exit at once with 130 / 143. */
export function exitOnSignals(command: string): void {
  if (answer === undefined) listen();
  answer = (name) => quitAtOnce(command, name, 'stopped');
}

export interface StopRequest {
  /** The first signal received since `stopAfterStepOnSignal`, or null; poll it between steps. */
  readonly signal: StopSignal | null;
  /** Back to exiting at once; call when the loop has returned, before saving. */
  release(): void;
}

/**
 * While training runs: the first SIGINT / SIGTERM is recorded and announced (`then` says what the
 * command does after the step), another one exits at once with its own code.
 */
export function stopAfterStepOnSignal(command: string, then: string): StopRequest {
  if (answer === undefined) exitOnSignals(command);
  if (startedByTsxCli()) console.error(`${command}: started by tsx's CLI (npx tsx, tsx): a signal sent to npx never gets here and one sent to tsx can end in SIGKILL before anything is saved; run node --import tsx scripts/${command}.ts to stop cleanly`);
  const previous = answer;
  const request = {
    signal: null as StopSignal | null,
    release: () => { answer = previous; },
  };
  answer = (name) => {
    if (request.signal) quitAtOnce(command, name, 'quitting at once, without saving');
    request.signal = name;
    console.error(`\n${name}: finishing the current step, then ${then} (send it again to quit at once)`);
  };
  return request;
}

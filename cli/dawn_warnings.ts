// Dawn's Vulkan backend prints two warnings from native code each time it enumerates adapters
// (lavapipe reports a million dynamic buffers per pipeline layout; Dawn clamps that to 16):
//   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 …
//   Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 …
// They are printed by requestAdapter, before any device or limit is requested, whatever the
// instance flags or feature level; Dawn has no run-time log level, and Node cannot redirect its
// own file descriptor 2. So the command line runs itself as a child whose stderr passes through
// here, less exactly those two lines. The child dies with its parent: a pipe whose far end only
// the parent holds closes when the parent is killed (even by SIGKILL), and the child then kills
// itself the same way, so `kill -9` on the command a user started stops the training too.

import { spawn } from 'node:child_process';
import { Socket } from 'node:net';

/** Set in the child: how the parent's stderr looks ('tty' or 'pipe'). */
const PARENT_STDERR = 'COLAR_WGPU_PARENT_STDERR';
const DAWN_WARNING = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;
const WARNING_START = 'Warning: maxDynamic';
/** The child's end of the pipe that closes when the parent dies. */
const LIFELINE_FD = 3;

/** Whether this process is the child that does the work (its stderr filtered by its parent). */
export function isFilteredChild(): boolean {
  const parentStderr = process.env[PARENT_STDERR];
  if (parentStderr === undefined) return false;
  const lifeline = new Socket({ fd: LIFELINE_FD, readable: true, writable: false });
  const orphaned = () => process.kill(process.pid, 'SIGKILL');
  lifeline.on('end', orphaned).on('close', orphaned).on('error', orphaned).resume();
  lifeline.unref();
  // progress bars redraw in place when the user's terminal is a TTY, though the pipe between is not
  if (parentStderr === 'tty') process.stderr.isTTY = true;
  return true;
}

/** Runs this command line as a child with Dawn's two warnings removed from its stderr; exits as it does. */
export function runFilteringDawnWarnings(): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'pipe', 'pipe'],
    env: { ...process.env, [PARENT_STDERR]: process.stderr.isTTY ? 'tty' : 'pipe' },
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, forward(signal));
  const filter = new LineFilter((text) => process.stderr.write(text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => filter.push(text));
  child.on('close', (code, signal) => {
    filter.end();
    if (signal) {
      for (const s of signals) process.removeAllListeners(s);
      process.kill(process.pid, signal);
    } else process.exitCode = code ?? 1;
  });
}

/** Passes text on as it comes, holding back only what may still become one of the two warnings. */
export class LineFilter {
  private held = '';

  constructor(private readonly write: (text: string) => void) {}

  push(text: string): void {
    const lines = (this.held + text).split('\n');
    this.held = lines.pop()!;
    const kept = lines.filter((line) => !DAWN_WARNING.test(line));
    if (kept.length > 0) this.write(kept.map((line) => `${line}\n`).join(''));
    const mayBeWarning = WARNING_START.startsWith(this.held) || this.held.startsWith(WARNING_START);
    if (!mayBeWarning) this.flush();
  }

  end(): void {
    if (!DAWN_WARNING.test(this.held)) this.flush();
    this.held = '';
  }

  private flush(): void {
    if (this.held !== '') this.write(this.held);
    this.held = '';
  }
}

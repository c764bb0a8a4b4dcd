/**
 * V8 flags that tidemark turns for a while and puts back: counted holds, so that windows nest and overlap
 * (the lint's synchronous window inside the CLI's hold over a whole run). A V8 flag is process-wide and changes
 * V8's flag hash while it is set: a Node built-in loaded meanwhile misses node's code cache and is compiled from
 * source, and a code cache written meanwhile would be rejected by a plain run. So a hold starts only once the
 * built-ins its work needs are loaded, and the last release restores V8's default, which restores the hash.
 * Nothing here runs at start-up (bin/migrate.js sets no flag).
 *
 * Each flag is left alone when the process was started with its own setting of it (node's command line or
 * NODE_OPTIONS: V8 debugging flags, `--jitless`), and when this runtime refuses it (the work is only slower).
 */
import { setFlagsFromString } from 'node:v8';

const startFlags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;

interface Hold {
  /** False: the process chose its own setting, or this runtime refused the flag. */
  allowed: boolean;
  depth: number;
  readonly on: string;
  readonly off: string;
}

function hold(flag: Hold): boolean {
  if (!flag.allowed) return false;
  if (flag.depth === 0) {
    try {
      setFlagsFromString(flag.on);
    } catch {
      flag.allowed = false;
      return false;
    }
  }
  flag.depth++;
  return true;
}

function release(flag: Hold): void {
  if (--flag.depth === 0) setFlagsFromString(flag.off);
}

/**
 * JavaScript's optimizing compiler (TurboFan). V8 decides to optimize a function when its budget runs out during
 * a call, reading `--turbofan` then, and compiles on a background thread whose memory stays resident: for
 * one-off work (a lint, a run of migrations in a CLI process) the compile costs more than it saves.
 */
const optimizer: Hold = {
  allowed: !/(^|\s)--(no[-_])?(opt|turbofan|jitless)(?=[\s=]|$)/.test(startFlags),
  depth: 0,
  on: '--no-turbofan',
  off: '--turbofan',
};
export const holdOptimizer = (): boolean => hold(optimizer);
export const releaseOptimizer = (): void => release(optimizer);

/**
 * WebAssembly's tier-up: V8 compiles a wasm function lazily on its first call and decides then whether it may
 * be recompiled later, only when `--wasm-tier-up-filter` is -1 (every function, the default) or its index.
 */
const wasmTierUp: Hold = {
  allowed: !startFlags.includes('tier-up-filter'),
  depth: 0,
  on: '--wasm-tier-up-filter=2147483647',
  off: '--wasm-tier-up-filter=-1',
};
export const holdWasmBaseline = (): boolean => hold(wasmTierUp);
export const releaseWasmBaseline = (): void => release(wasmTierUp);

/**
 * The young generation's growth: V8 doubles its semi-spaces (up to 16 MB each) when a scavenge finds much alive,
 * and reads `--semi-space-growth-factor` each time it would grow them; 1 makes a growth a no-op.
 */
const youngGeneration: Hold = {
  allowed: !startFlags.includes('semi-space'),
  depth: 0,
  on: '--semi-space-growth-factor=1',
  off: '--semi-space-growth-factor=2',
};
export const holdYoungGeneration = (): boolean => hold(youngGeneration);
export const releaseYoungGeneration = (): void => release(youngGeneration);

/**
 * The CLI's young generation while migrations run. V8 doubles its young generation (the semi-spaces) whenever
 * enough objects survived its scavenges since the last growth; a run of a thousand migrations keeps some of
 * every migration's objects alive across a scavenge (pg's results, the query texts, events), so the young
 * generation doubles once or twice during the run and its pages stay resident: ~8 MB of a `up` of 1000
 * migrations' peak RSS (see docs/decisions.md, "The runner's per-migration cost and memory (session 5)").
 *
 * `--semi-space-growth-factor=1` makes a growth a no-op; V8 reads the flag each time it would grow, so it can
 * be set at run time. Only while migrations run, and only in the CLI (the library leaves its host's heap
 * alone): any V8 flag changes V8's flag hash, and a Node built-in loaded while it is set misses node's code
 * cache; restored to V8's default (2) afterwards, the hash is the default's again, so the bundle's code cache
 * written at exit (bin/migrate.js) stays valid. Not on node's command line: there it would change the hash
 * from the start (every built-in compiled from source, and dist/cli.cjs.cache rejected).
 */
import { setFlagsFromString } from 'node:v8';

/** V8's default --semi-space-growth-factor (V8 11-12, Node 20-22). */
const DEFAULT_GROWTH_FACTOR = 2;

let held = false;

/** Keeps the young generation at its present size until releaseYoungGeneration(). */
export function holdYoungGeneration(): void {
  // A user who set the flag (or another heap flag) on node's command line decides: left alone.
  if (held || process.execArgv.some((a) => a.includes('semi-space'))) return;
  held = true;
  setFlagsFromString('--semi-space-growth-factor=1');
}

export function releaseYoungGeneration(): void {
  if (!held) return;
  held = false;
  setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
}

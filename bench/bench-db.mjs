// The databases of a bench run: named per process, so that two runs at once (two people, or a run and the
// test suite) never drop or terminate each other's, and dropped however the run ends: normally, on an error,
// or on SIGINT/SIGTERM/SIGHUP (a signal exits through process.exit, which runs the 'exit' handler).
import { execFileSync } from 'node:child_process';

/** `<tag>_<pid>`: unique among the runs on this machine at one time. */
export const benchDatabase = (tag) => `${tag}_${process.pid}`;

/**
 * Drops `names` (a list the caller may still push to) with psql when the process exits. `adminDb`: what psql
 * connects to (a database name, with the connection from `env`'s PG* variables, or a URL).
 */
export function dropAtExit(names, { adminDb = 'postgres', env = process.env } = {}) {
  let done = false;
  const drop = () => {
    if (done) return;
    done = true;
    for (const name of names) {
      try {
        execFileSync('psql', ['-X', '-q', '-d', adminDb, '-c', `drop database if exists "${name}" with (force)`], {
          env,
          stdio: ['ignore', 'ignore', 'inherit'],
        });
      } catch {
        console.error(`could not drop the bench database ${name}; drop it by hand`);
      }
    }
  };
  process.on('exit', drop);
  for (const [signal, number] of [
    ['SIGINT', 2],
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ])
    process.once(signal, () => process.exit(128 + number));
  return drop;
}

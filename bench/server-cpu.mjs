// The CPU a bench's work costs, read from /proc (for the server's share, the server must run on this host):
// one backend's around a piece of work (schedstat: ns on CPU, the steadier figure on a loaded machine), any
// process's so far (stat: clock ticks), and every backend of a database sampled while a child works for it.
import { readFileSync, readdirSync } from 'node:fs';

const TICK = 100; // clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux)

/** Milliseconds on CPU of process `pid` so far (/proc/<pid>/schedstat, ns resolution); null when unreadable. */
export function schedMs(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return null;
  }
}

/**
 * A function that gives the CPU milliseconds of `client`'s backend so far (null when /proc does not show it: a
 * remote server): the difference of two calls around a piece of work is the server's CPU for it. Its `pid` is
 * the backend's.
 */
export async function backendCpuMs(client) {
  const { pid } = (await client.query('select pg_backend_pid() as pid')).rows[0];
  return Object.assign(() => schedMs(pid), { pid });
}

/** CPU seconds (user + system) of process `pid` so far, from /proc/<pid>/stat; NaN when unreadable. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 (1-based) of the whole line: 12 and 13 after the comm field.
    return (Number(fields[11]) + Number(fields[12])) / TICK;
  } catch {
    return NaN;
  }
}

/**
 * Sets `seen` (pid -> CPU seconds so far) for every server backend whose process title includes `match` (the
 * database's name). Called every ~100 ms while a child works, the sum of `seen` is the server's CPU for it; a
 * backend's last moments before it exits are not counted.
 */
export function sampleBackends(match, seen) {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!title.startsWith('postgres:') || !title.includes(match)) continue;
    } catch {
      continue; // The process ended between the listing and the read.
    }
    const cpu = cpuSeconds(pid);
    if (!Number.isNaN(cpu)) seen.set(pid, cpu);
  }
}

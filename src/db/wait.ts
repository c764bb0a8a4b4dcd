/**
 * Waiting for the database to come up (`--wait-for-db SECONDS`, DB_WAIT_TIMEOUT). An init container or a CI
 * job often starts before its PostgreSQL accepts connections; without this, the first connection fails at once
 * (exit 3). This is not `up --wait`, which waits for another runner's lock on a server that is up.
 *
 * Only failures that a starting server or network explains are retried (nothing listening, no DNS record yet,
 * "the database system is starting up", no free slot, a connection cut during start-up). A wrong password, a
 * missing role or database, a refused SSL request or a bad URL will not fix themselves: they are thrown at once,
 * with the reason, instead of burning the whole deadline.
 */
import { interruptedError, MigrateError } from '../errors.js';
import { connect, isConnectionLost } from './connection.js';
import { describeParams, type ConnectionParams } from './params.js';

/** First pause between attempts; each failure doubles it up to DELAY_CAP_MS. */
export const FIRST_DELAY_MS = 250;
/** A server that comes up is noticed within this long: a pod start should not sleep much longer than needed. */
export const DELAY_CAP_MS = 2_000;
/** Bare `--wait-for-db`: dbmate's default wait timeout. */
export const DEFAULT_DB_WAIT_SECONDS = 60;

const TRANSIENT = new Set(['db-refused', 'db-timeout', 'db-unknown-host', 'db-starting', 'db-too-many-connections']);

/** True when the connect() failure is one a server that is starting (or a network settling) explains. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof MigrateError)) return false;
  if (TRANSIENT.has(error.code)) return true;
  // A server (or a proxy in front of it) that accepts and then drops the connection while it starts.
  return error.code === 'db-connect-failed' && isConnectionLost(error.cause);
}

/**
 * The pause before attempt `attempt + 1` (attempt counts from 0): exponential, capped, with jitter so that
 * many pods started together do not knock in step. `random` returns [0, 1).
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(DELAY_CAP_MS, FIRST_DELAY_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

export interface WaitNotice {
  /** 1 for the first failed attempt. */
  readonly attempt: number;
  /** What the last attempt said (a MigrateError of connect()). */
  readonly reason: MigrateError;
  readonly delayMs: number;
  readonly remainingMs: number;
  /** host:port/database, the password masked. */
  readonly target: string;
}

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Called before each pause; the CLI prints what it waits for. */
  readonly onWait?: ((notice: WaitNotice) => void) | undefined;
  /** Injected by unit tests; connect() of db/connection by default. */
  readonly probe?: ((params: ConnectionParams) => Promise<void>) | undefined;
  readonly now?: (() => number) | undefined;
  readonly random?: (() => number) | undefined;
}

async function openAndClose(params: ConnectionParams): Promise<void> {
  const client = await connect(params);
  await client.end().catch(() => {});
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Resolves once a connection to `params` succeeds; throws the connect() error at once when it is not transient,
 * and `db-wait-timeout` (exit 3) when the deadline passes. A signal ends the wait with exit 130/143.
 */
export async function waitForDatabase(params: ConnectionParams, options: WaitOptions): Promise<void> {
  const now = options.now ?? Date.now;
  const probe = options.probe ?? openAndClose;
  const deadline = now() + options.timeoutMs;
  const target = describeParams(params);
  for (let attempt = 0; ; attempt += 1) {
    try {
      await probe(params);
      return;
    } catch (error) {
      if (!isTransient(error)) throw notRetried(error);
      const reason = error as MigrateError;
      const remainingMs = deadline - now();
      if (options.signal?.aborted) throw interrupted(options.signal);
      if (remainingMs <= 0) {
        throw new MigrateError(
          'db-wait-timeout',
          `The database did not come up within ${Math.round(options.timeoutMs / 1000)} s (${target}); the last attempt said: ${reason.message}`,
          {
            hint: `${reason.hintTemplate ?? 'Check {{databaseUrl}}.'} To wait longer, raise {{waitLonger}}.`,
            cause: reason,
            details: { database: target, attempts: attempt + 1 },
          },
        );
      }
      const delayMs = Math.min(backoffDelay(attempt, options.random), remainingMs);
      options.onWait?.({ attempt: attempt + 1, reason, delayMs, remainingMs, target });
      await sleep(delayMs, options.signal);
      if (options.signal?.aborted) throw interrupted(options.signal);
    }
  }
}

/** The same error, its hint saying why the wait gave up at once (a wrong password does not fix itself). */
function notRetried(error: unknown): unknown {
  if (!(error instanceof MigrateError)) return error;
  return new MigrateError(error.code, error.message, {
    signal: error.signal,
    hint: `${error.hintTemplate ?? ''} Not retried by {{waitForDb}}: waiting cannot fix this.`.trim(),
    cause: error.cause,
    details: error.details,
  });
}

function interrupted(signal: AbortSignal): MigrateError {
  const name = String(signal.reason);
  return interruptedError(name, `Interrupted by ${name} while waiting for the database to come up; nothing was run.`);
}

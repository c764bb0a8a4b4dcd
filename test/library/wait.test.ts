/**
 * waitForDatabase, as the library exports it: what an app that starts beside its database calls before
 * createMigrator. Its hints name the library's options (the knobs' library words), never a CLI flag.
 */
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/db/embedded.js';
import { MigrateError, paramsFromUrl, waitForDatabase, type WaitNotice } from '../../src/index.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase('library_wait');

describe('waitForDatabase (library)', () => {
  it('resolves at once for a database that is up, from a URL', async () => {
    const notices: WaitNotice[] = [];
    await waitForDatabase(db.url, { timeoutMs: 5_000, onWait: (n) => notices.push(n) });
    expect(notices).toEqual([]);
  });

  it('gives up at the deadline on a port nothing listens on, saying so in library words', async () => {
    const port = await freePort();
    const notices: WaitNotice[] = [];
    const error = await waitForDatabase(paramsFromUrl(`postgres://u:secret@127.0.0.1:${port}/d`), {
      timeoutMs: 600,
      onWait: (n) => notices.push(n),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MigrateError);
    const failure = error as MigrateError;
    expect(failure.code).toBe('db-wait-timeout');
    expect(failure.exitCode).toBe(3);
    expect(failure.hint).toContain("waitForDatabase()'s timeoutMs option");
    expect(failure.hint).not.toContain('--wait-for-db');
    expect(`${failure.message} ${failure.hint}`).not.toContain('secret');
    expect(notices.length).toBeGreaterThan(0);
    expect(notices[0]?.reason.code).toBe('db-refused');
  });

  it('does not retry a database that does not exist: waiting cannot fix it', async () => {
    const url = new URL(db.url);
    url.pathname = '/tidemark_no_such_database';
    const notices: WaitNotice[] = [];
    const error = (await waitForDatabase(url.toString(), { timeoutMs: 60_000, onWait: (n) => notices.push(n) }).then(
      () => undefined,
      (e: unknown) => e,
    )) as MigrateError;
    expect(error.code).toBe('db-not-found');
    expect(notices).toEqual([]);
    expect(error.hint).toContain('Not retried by waitForDatabase()');
  });
});

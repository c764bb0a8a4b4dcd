import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  connectTimeoutOf,
  describeParams,
  libpqChildEnv,
  hostAndPort,
  maskPasswords,
  paramsFromLibpq,
  paramsFromUrl,
  pgClientConfig,
} from '../../src/db/params.js';
import { parsePassfileLine, passwordFromFile, passwordFromText } from '../../src/db/passfile.js';

describe('connection parameters', () => {
  it('reads a URL as libpq does: percent-decoding once, sslmode from the query', () => {
    expect(paramsFromUrl('postgres://us%40er:p%40ss%25w@db.example.com:5433/my%20db?sslmode=require')).toMatchObject({
      host: 'db.example.com',
      port: 5433,
      user: 'us@er',
      password: 'p@ss%w',
      database: 'my db',
      sslmode: 'require',
    });
  });

  it('takes a socket host from the query and defaults the database to the user', () => {
    expect(paramsFromUrl('postgresql://app@/?host=/var/run/postgresql')).toMatchObject({
      host: '/var/run/postgresql',
      user: 'app',
      database: 'app',
      port: 5432,
    });
    expect(paramsFromUrl('postgres://[::1]:6543/x')).toMatchObject({ host: '::1', port: 6543, database: 'x' });
    // Shown as a URL is written: an IPv6 address in brackets, so its port stays readable.
    expect(describeParams(paramsFromUrl('postgres://app:pw@[::1]:6543/x'))).toBe('postgres://app:***@[::1]:6543/x');
    expect(hostAndPort(paramsFromUrl('postgres://[::1]:6543/x'))).toBe('[::1]:6543');
    expect(hostAndPort(paramsFromUrl('postgres://db:6543/x'))).toBe('db:6543');
  });

  it('reads libpq variables', () => {
    expect(
      paramsFromLibpq({ PGHOST: 'h', PGPORT: '6000', PGUSER: 'u', PGPASSWORD: 'pw', PGDATABASE: 'd' }),
    ).toMatchObject({ host: 'h', port: 6000, user: 'u', password: 'pw', database: 'd' });
  });

  it('never shows the password: described URL, masked messages; children get it in their environment only', () => {
    const params = paramsFromUrl('postgres://u:s3cr%3At@h/d');
    expect(describeParams(params)).toBe('postgres://u:***@h:5432/d');
    expect(maskPasswords('failed for postgres://u:s3cr:t@h/d', params.password)).not.toContain('s3cr:t');
    expect(maskPasswords('password s3cr:t. (s3cr:t)', params.password)).toBe('password ***. (***)');
    // A short password is masked where it stands alone, never inside the words of the message.
    expect(maskPasswords('Connection terminated unexpectedly: p', 'p')).toBe('Connection terminated unexpectedly: ***');
    expect(maskPasswords('role "app" and app_db, not "app"', 'app')).toBe('role "***" and app_db, not "***"');
    const env = libpqChildEnv(params, { PATH: '/bin', PGSERVICE: 'stale' });
    expect(env).toMatchObject({ PGHOST: 'h', PGUSER: 'u', PGPASSWORD: 's3cr:t', PGDATABASE: 'd', PATH: '/bin' });
    expect(env.PGSERVICE).toBeUndefined();
  });
});

describe('libpq settings applied as libpq applies them', () => {
  it('lets PG* variables fill what the URL leaves out, and the URL win where it speaks', () => {
    const params = paramsFromUrl('postgres://app@db.example.com/shop?sslmode=verify-full', {
      PGUSER: 'ignored',
      PGPASSWORD: 'from-env',
      PGPORT: '6432',
      PGSSLMODE: 'disable',
      PGSSLROOTCERT: '/etc/ca.pem',
      PGCONNECT_TIMEOUT: '7',
      PGPASSFILE: '/secrets/pgpass',
    });
    expect(params).toMatchObject({
      user: 'app',
      password: 'from-env',
      host: 'db.example.com',
      port: 6432,
      database: 'shop',
      sslmode: 'verify-full',
      sslrootcert: '/etc/ca.pem',
      connectTimeoutSeconds: 7,
      passfile: '/secrets/pgpass',
    });
    expect(paramsFromUrl('postgres://h/d?connect_timeout=3&passfile=/p').connectTimeoutSeconds).toBe(3);
    expect(paramsFromUrl('postgres://h/d?connect_timeout=3&passfile=/p').passfile).toBe('/p');
  });

  it('applies connect_timeout: 0 waits for ever, 1 means 2, unset is 10 s; pg_dump gets it too', () => {
    const at = (connectTimeoutSeconds: number | undefined) => ({
      ...paramsFromUrl('postgres://u@h/d'),
      connectTimeoutSeconds,
    });
    expect([undefined, 0, -1, 1, 2, 30].map((t) => connectTimeoutOf(at(t)))).toEqual([10, 0, 0, 2, 2, 30]);
    expect(pgClientConfig(at(30)).connectionTimeoutMillis).toBe(30_000);
    expect(pgClientConfig(at(0)).connectionTimeoutMillis).toBe(0);
    expect(libpqChildEnv({ ...at(30), passfile: '/p' }, {})).toMatchObject({
      PGCONNECT_TIMEOUT: '30',
      PGPASSFILE: '/p',
    });
  });

  it('reads a password file as libpq: wildcards, escapes, comments, first match, localhost for the default socket', () => {
    const text = [
      '# comment',
      'other:5432:*:u:nope',
      'h:5432:d:u:pw\\:with\\\\escapes',
      '*:*:*:u:fallback',
      'localhost:5432:*:*:socket',
    ].join('\n');
    const params = { host: 'h', port: 5432, database: 'd', user: 'u' };
    expect(passwordFromText(text, params)).toBe('pw:with\\escapes');
    expect(passwordFromText(text, { ...params, database: 'x' })).toBe('fallback');
    expect(passwordFromText(text, { host: '/var/run/postgresql', port: 5432, database: 'd', user: 'v' })).toBe(
      'socket',
    );
    expect(passwordFromText(text, { ...params, user: 'v' })).toBeUndefined();
    expect(parsePassfileLine('a:b:c:d')).toBeUndefined();
  });

  it('uses the file only when private (0600), and only when no password is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-pgpass-'));
    try {
      const file = join(dir, 'pgpass');
      writeFileSync(file, '*:*:*:*:from-file\n');
      chmodSync(file, 0o644);
      const params = { ...paramsFromUrl('postgres://u@h/d'), passfile: file };
      expect(await passwordFromFile(file, params)).toBeUndefined();
      chmodSync(file, 0o600);
      expect(await passwordFromFile(file, params)).toBe('from-file');
      const lookup = pgClientConfig(params).password as () => Promise<string>;
      expect(await lookup()).toBe('from-file');
      expect(pgClientConfig({ ...params, password: 'given' }).password).toBe('given');
      expect(await passwordFromFile(join(dir, 'missing'), params)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('URLs that do not parse', () => {
  const secret = 'Sup3rS3cret';
  const cases: [string, RegExp][] = [
    [`postgres://app:${secret}@x@db.example.com/app`, /more than one @ before the host.*%40/],
    [`postgres://app:${secret}/x@db.example.com/app`, /contains an unencoded \/ or \?; write \/ as %2F/],
    [`postgres://app:${secret}?x@db.example.com:5432/app`, /contains an unencoded \/ or \?.*%3F/],
    [`postgres://app:${secret}@db.example.com:99999/app`, /port "99999", which is not a port number \(1-65535\)/],
    [`postgres://app:${secret}@db.example.com:0/app`, /port "0"/],
    [
      `postgres://app:${secret}@db.example.com/app?sslmode=bogus`,
      /sslmode="bogus", which is not one of disable, allow, prefer, require, verify-ca, verify-full/,
    ],
  ];
  it.each(cases)('%s is refused (exit 2) without any part of the password', (url, message) => {
    let error: unknown;
    try {
      paramsFromUrl(url);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'bad-database-url', exitCode: 2, message });
    const text = `${(error as Error).message} ${(error as { hint?: string }).hint}`;
    for (const piece of [secret, 'Sup3r', 'x@db', 'S3cret']) expect(text).not.toContain(piece);
  });

  it('refuses PGPORT and PGSSLMODE values libpq would refuse', () => {
    expect(() => paramsFromLibpq({ PGHOST: '/tmp', PGPORT: '65536' })).toThrow(
      /PGPORT="65536", which is not a port number/,
    );
    expect(() => paramsFromLibpq({ PGHOST: '/tmp', PGSSLMODE: 'on' })).toThrow(/PGSSLMODE="on", which is not one of/);
  });
});

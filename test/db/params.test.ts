import { describe, expect, it } from 'vitest';
import { describeParams, libpqChildEnv, maskPasswords, paramsFromLibpq, paramsFromUrl } from '../../src/db/params.js';

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
    expect(paramsFromUrl('postgresql://app@/?host=/var/run/postgresql')).toMatchObject({ host: '/var/run/postgresql', user: 'app', database: 'app', port: 5432 });
    expect(paramsFromUrl('postgres://[::1]:6543/x')).toMatchObject({ host: '::1', port: 6543, database: 'x' });
  });

  it('reads libpq variables', () => {
    expect(paramsFromLibpq({ PGHOST: 'h', PGPORT: '6000', PGUSER: 'u', PGPASSWORD: 'pw', PGDATABASE: 'd' })).toMatchObject({ host: 'h', port: 6000, user: 'u', password: 'pw', database: 'd' });
  });

  it('never shows the password: described URL, masked messages; children get it in their environment only', () => {
    const params = paramsFromUrl('postgres://u:s3cr%3At@h/d');
    expect(describeParams(params)).toBe('postgres://u:***@h:5432/d');
    expect(maskPasswords('failed for postgres://u:s3cr:t@h/d', params.password)).not.toContain('s3cr:t');
    const env = libpqChildEnv(params, { PATH: '/bin', PGSERVICE: 'stale' });
    expect(env).toMatchObject({ PGHOST: 'h', PGUSER: 'u', PGPASSWORD: 's3cr:t', PGDATABASE: 'd', PATH: '/bin' });
    expect(env.PGSERVICE).toBeUndefined();
  });
});

describe('URLs that do not parse', () => {
  const secret = 'Sup3rS3cret';
  const cases: [string, RegExp][] = [
    [`postgres://app:${secret}@x@db.example.com/app`, /more than one @ before the host.*%40/],
    [`postgres://app:${secret}@db.example.com:99999/app`, /port "99999", which is not a port number \(1-65535\)/],
    [`postgres://app:${secret}@db.example.com:0/app`, /port "0"/],
    [`postgres://app:${secret}@db.example.com/app?sslmode=bogus`, /sslmode="bogus", which is not one of disable, allow, prefer, require, verify-ca, verify-full/],
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
    expect(() => paramsFromLibpq({ PGHOST: '/tmp', PGPORT: '65536' })).toThrow(/PGPORT="65536", which is not a port number/);
    expect(() => paramsFromLibpq({ PGHOST: '/tmp', PGSSLMODE: 'on' })).toThrow(/PGSSLMODE="on", which is not one of/);
  });
});

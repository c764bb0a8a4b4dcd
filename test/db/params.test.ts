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

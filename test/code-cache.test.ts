/**
 * The build makes the CLI's code cache (dist/cli.cjs.cache) by running a no-op `status` and `up` against a
 * stand-in for PostgreSQL (scripts/stand-in-server.mjs). Every query of that path must be answered there: one it
 * does not answer makes every build wait that query's deadline (a minute) and cache a failed run instead of
 * what a pod start runs. Here the same two commands run against the same stand-in and the same files.
 */
import { rmSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script without declarations (scripts/ is not compiled)
import { standInServer, warmMigrations } from '../scripts/stand-in-server.mjs';
import { makeProject, runCli } from './helpers/project.js';

const startStandIn = standInServer as (historyJson: string) => Promise<Server>;
const writeWarmMigrations = warmMigrations as (dir: string) => string;

describe("the build's stand-in server for the code cache's warm run", () => {
  it('answers every query of a no-op `status` and `up`: both exit 0', async () => {
    const dir = makeProject();
    const server = await startStandIn(writeWarmMigrations(join(dir, 'migrations')));
    try {
      const { port } = server.address() as AddressInfo;
      const env = { DATABASE_URL: `postgres://tidemark@127.0.0.1:${port}/build`, BACKUP_BEFORE_MIGRATE: 'false' };
      for (const command of ['status', 'up']) {
        const result = await runCli([command], { cwd: dir, env });
        expect({ command, code: result.code, stderr: result.stderr }).toEqual({ command, code: 0, stderr: '' });
      }
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

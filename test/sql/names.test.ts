/**
 * The names SQL text could use for objects (issue 10: the catalog read before a lint asks only for these). The
 * set must hold every identifier the grammar can read out of the text, however it is written.
 */
import { describe, expect, it } from 'vitest';
import { identifierNames } from '../../src/sql/names.js';

describe('identifierNames', () => {
  it('has every word as written and folded, in SQL, strings and comments alike', () => {
    const names = identifierNames([
      "ALTER TABLE Public.Users ADD COLUMN nick_name$2 text DEFAULT 'x'; -- see Orders\nselect 1 from t9;",
    ])!;
    for (const name of ['Users', 'users', 'Public', 'public', 'nick_name$2', 'Orders', 'orders', 't9', 'x']) {
      expect(names).toContain(name);
    }
  });

  it('has quoted identifiers whole, also when a `"` in a string or comment breaks the pairing', () => {
    const names = identifierNames([`comment on table t is 'a "quote'; drop table "Big Table";`])!;
    expect(names).toContain('Big Table');
    expect(identifierNames(['create table "x.y" ("Weird Col" int)'])).toEqual(
      expect.arrayContaining(['x.y', 'Weird Col']),
    );
  });

  it('folds only A-Z, as PostgreSQL does in a UTF-8 database, and keeps the full lower case too', () => {
    expect(identifierNames(['create table ÉTable (id int)'])).toEqual(
      expect.arrayContaining(['ÉTable', 'Étable', 'étable']),
    );
  });

  it('cuts names to 63 bytes, without splitting a character, as PostgreSQL truncates identifiers', () => {
    const long = 'a'.repeat(62) + 'é' + 'b';
    const names = identifierNames([`create table ${long} (id int)`])!;
    expect(names).toContain('a'.repeat(62));
    expect(names).not.toContain(long);
    expect(identifierNames([`drop table "${'Q'.repeat(70)}"`])).toContain('Q'.repeat(63));
  });

  it('gives up on what it cannot spell: U& identifiers and escaped quotes', () => {
    expect(identifierNames(['select 1', 'drop table U&"d\\0061t"'])).toBeUndefined();
    expect(identifierNames(['drop table "a""b"'])).toBeUndefined();
  });
});

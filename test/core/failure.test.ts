/** Failure location, pure: a PostgreSQL error position -> the file's line:col, and the typed ExecutionError. */
import { describe, expect, it } from 'vitest';
import { ExecutionError, failureOf, locateFailure, originalError } from '../../src/core/failure.js';
import type { SqlFile } from '../../src/source/types.js';

function file(text: string): SqlFile {
  return {
    path: '/app/migrations/001_x.sql',
    displayPath: 'migrations/001_x.sql',
    text,
    empty: false,
    directives: { noTransaction: false, phase: undefined, allow: [] },
  };
}

describe('locateFailure', () => {
  it('maps a position inside a later statement to its line and column in the file', () => {
    const f = file('create table a (id int);\ncreate table b (id int, x nosuchtype);\n');
    const statement = { text: 'create table b (id int, x nosuchtype)', start: 25, line: 2, column: 1 };
    const failure = locateFailure(f, statement, 1, 2, {
      code: '42704',
      position: '27',
      message: 'type "nosuchtype" does not exist',
    });
    expect(failure).toMatchObject({
      file: 'migrations/001_x.sql',
      line: 2,
      column: 27,
      sqlstate: '42704',
      statement: 2,
      statements: 2,
    });
    expect(failure.sourceLine).toBe('create table b (id int, x nosuchtype);');
  });

  it('points at the statement start when PostgreSQL gives no position', () => {
    const f = file('select 1;\n  insert into t values (1);\n');
    const failure = locateFailure(f, { text: 'insert into t values (1)', start: 12, line: 2, column: 3 }, 1, 2, {
      code: '23505',
      message: 'duplicate key',
    });
    expect(failure).toMatchObject({ line: 2, column: 3 });
  });
});

describe('ExecutionError', () => {
  it('keeps the pg error unchanged as its cause, with the facts beside it', async () => {
    const pgError = Object.assign(new Error('syntax error at or near "selec"'), {
      code: '42601',
      severity: 'ERROR',
      position: '99',
    });
    const error = new ExecutionError(pgError, { statementIndex: 0, whole: true, position: '1' });
    expect(originalError(error)).toBe(pgError);
    expect(Object.keys(pgError).sort()).toEqual(['code', 'position', 'severity']);
    const withRun = error.with({ statementsRun: [{ line: 1, text: 'select 1' }] });
    expect(withRun).toMatchObject({
      statementIndex: 0,
      whole: true,
      position: '1',
      statementsRun: [{ line: 1, text: 'select 1' }],
    });
    expect(withRun.cause).toBe(pgError);
    // whole: the position is the file's own (the executor subtracted its prefix), not the raw 99.
    expect(await failureOf(error, file('selec 1;'), undefined)).toMatchObject({
      line: 1,
      column: 1,
      sqlstate: '42601',
    });
  });

  it("is not an SQL failure when the cause is not PostgreSQL's", async () => {
    expect(
      await failureOf(
        new ExecutionError(new Error('Connection terminated'), { statementIndex: 0 }),
        file('select 1;'),
        undefined,
      ),
    ).toBeUndefined();
    expect(await failureOf(new Error('plain'), file('select 1;'), undefined)).toBeUndefined();
  });
});

import { stringList } from '../../tree.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  id: 'ban-drop-schema',
  severity: 'error',
  reason: 'DROP SCHEMA destroys every object in it',
  lock: 'ACCESS EXCLUSIVE',
  help: 'Drop the objects you mean to drop one by one, or acknowledge with -- migrate:allow ban-drop-schema -- reason.',
  kinds: ['DropStmt'],
  check(context) {
    if (context.kind !== 'DropStmt' || context.node.removeType !== 'OBJECT_SCHEMA') return [];
    // A schema this run created holds only what the run put there.
    const names = stringList(context.node.objects).filter(
      (name) => !context.schema.isNewSchema(name) && !context.schema.undoes(`schema:${name}`),
    );
    if (names.length === 0) return [];
    return [
      {
        message: `DROP SCHEMA ${names.join(', ')}${context.node.behavior === 'DROP_CASCADE' ? ' CASCADE' : ''} destroys its objects`,
      },
    ];
  },
};

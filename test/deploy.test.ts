/**
 * Every Kubernetes manifest in deploy/ validates against the real Kubernetes schemas (kubernetes-models ships
 * validators generated from the API's OpenAPI document), with no field the schemas do not know, and says what
 * the README promises: an init container running `up` with the database wait, DATABASE_URL from a Secret, no
 * unavailable pod during a rollout, a non-root container with a read-only root filesystem and a writable
 * backup folder.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/project.js';

type Manifest = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const folder = join(ROOT, 'deploy', 'kubernetes');
const manifests: { file: string; doc: Manifest }[] = readdirSync(folder)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(folder, file), 'utf8')).map((d) => {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
      return { file, doc: d.toJS() as Manifest };
    }),
  );

const GROUPS: Record<string, () => Promise<Record<string, unknown>>> = {
  v1: () => import('kubernetes-models/v1'),
  'apps/v1': () => import('kubernetes-models/apps/v1'),
  'batch/v1': () => import('kubernetes-models/batch/v1'),
};

/** The kubernetes-models class for apiVersion/kind, e.g. apps/v1 Deployment. */
async function modelFor(apiVersion: string, kind: string): Promise<new (data: Manifest) => { validate(): void }> {
  const model = (await GROUPS[apiVersion]?.())?.[kind];
  if (typeof model !== 'function')
    throw new Error(`no Kubernetes schema loaded for ${apiVersion} ${kind}: add its group to GROUPS`);
  return model as never;
}

/**
 * The schema's check, then unknown fields. Kubernetes' OpenAPI schemas do not say additionalProperties: false,
 * so the validators pass a misspelt `securityContxt` (the API server drops it, or rejects it with
 * --validate=strict). The validators read every property their schema knows, and list the keys of a map
 * (labels, resources.limits): so the manifest is validated through proxies that record what was read, and a
 * key of an object that was neither read nor listed is one the schema does not know.
 */
async function validate(doc: Manifest): Promise<void> {
  const Model = await modelFor(doc.apiVersion, doc.kind);
  const read = new Map<object, Set<string | typeof ALL_KEYS>>();
  const track = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const keys = new Set<string | typeof ALL_KEYS>();
    read.set(value, keys);
    return new Proxy(value, {
      get: (target, key, receiver) => {
        if (typeof key === 'string') keys.add(key);
        return track(Reflect.get(target, key, receiver));
      },
      has: (target, key) => {
        if (typeof key === 'string') keys.add(key);
        return Reflect.has(target, key);
      },
      ownKeys: (target) => {
        keys.add(ALL_KEYS);
        return Reflect.ownKeys(target);
      },
    });
  };
  Model.prototype.validate.call(track(structuredClone(doc)) as never); // throws on a schema error
  const copy = [...read.keys()][0]!;
  const unknown: string[] = [];
  const walk = (value: unknown, path: string): void => {
    if (value === null || typeof value !== 'object') return;
    const keys = read.get(value)!;
    for (const [key, child] of Object.entries(value)) {
      if (!Array.isArray(value) && !keys.has(ALL_KEYS) && !keys.has(key)) unknown.push(`${path}/${key}`);
      else walk(child, `${path}/${key}`);
    }
  };
  walk(copy, '');
  if (unknown.length > 0)
    throw new Error(`unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.sort().join(', ')}`);
}
const ALL_KEYS = Symbol('every key listed');

const find = (kind: string) => manifests.find((m) => m.doc.kind === kind)!.doc;
const podOf = (doc: Manifest) => doc.spec.template.spec;

describe('deploy/kubernetes', () => {
  it('has the Deployment, the Job and the Secret example', () => {
    expect(manifests.map((m) => m.doc.kind).sort()).toEqual(['Deployment', 'Job', 'PersistentVolumeClaim', 'Secret']);
  });

  it.each(manifests.map((m) => [`${m.file}: ${m.doc.kind} ${m.doc.metadata?.name}`, m.doc] as const))(
    '%s validates against the Kubernetes schema',
    async (_name, doc) => {
      await expect(validate(doc)).resolves.toBeUndefined();
    },
  );

  it('rejects a manifest that breaks the schema (the check can fail)', async () => {
    const broken = structuredClone(find('Deployment'));
    podOf(broken).initContainers[0].securityContext.runAsNonRoot = 'yes';
    podOf(broken).securityContext.runAsUser = 'app';
    await expect(validate(broken)).rejects.toThrow(/runAsUser must be integer/);
  });

  it('rejects a field the schema does not know (a misspelt securityContext), at any depth', async () => {
    const misspelt = structuredClone(find('Deployment'));
    podOf(misspelt).initContainers[0].securityContxt = podOf(misspelt).initContainers[0].securityContext;
    delete podOf(misspelt).initContainers[0].securityContext;
    await expect(validate(misspelt)).rejects.toThrow(
      'unknown field: /spec/template/spec/initContainers/0/securityContxt',
    );
    const job = structuredClone(find('Job'));
    job.spec.backofLimit = 0;
    podOf(job).volumes[1].emptyDir.sizeLimt = '1Gi';
    await expect(validate(job)).rejects.toThrow(
      'unknown fields: /spec/backofLimit, /spec/template/spec/volumes/1/emptyDir/sizeLimt',
    );
  });

  it('accepts any key where the schema has a map (labels, resource limits)', async () => {
    const deployment = structuredClone(find('Deployment'));
    deployment.metadata.labels['example.com/team'] = 'db';
    podOf(deployment).initContainers[0].resources.limits['ephemeral-storage'] = '1Gi';
    await expect(validate(deployment)).resolves.toBeUndefined();
  });

  it('runs migrate up with the database wait as an init container, in a rollout that keeps every pod serving', () => {
    const deployment = find('Deployment');
    expect(deployment.spec.strategy).toMatchObject({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } });
    const init = podOf(deployment).initContainers[0];
    expect(init.args.slice(0, 2)).toEqual(['up', '--wait-for-db']);
    expect(init.env.find((e: Manifest) => e.name === 'DATABASE_URL').valueFrom.secretKeyRef).toEqual({
      name: 'app-db',
      key: 'DATABASE_URL',
    });
  });

  it.each([['Deployment'], ['Job']])('%s: non-root, read-only root filesystem, the backup folder a volume', (kind) => {
    const doc = find(kind);
    const pod = podOf(doc);
    const migrate = [...(pod.initContainers ?? []), ...pod.containers].find((c: Manifest) => c.name === 'migrate');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(migrate.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(migrate.resources.requests).toBeDefined();
    expect(migrate.resources.limits.memory).toBeDefined();
    const backupDir = migrate.env.find((e: Manifest) => e.name === 'BACKUP_DIR').value;
    const mount = migrate.volumeMounts.find((m: Manifest) => m.mountPath === backupDir);
    expect(pod.volumes.map((v: Manifest) => v.name)).toContain(mount.name);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
  });

  it('passes the CLI only flags it has', () => {
    const helpOf = (args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, 'bin', 'migrate.js'), ...args], { encoding: 'utf8' }).stdout;
    const help = helpOf(['--help']) + helpOf(['up', '--help']); // global options + up's
    for (const kind of ['Deployment', 'Job']) {
      const pod = podOf(find(kind));
      const migrate = [...(pod.initContainers ?? []), ...pod.containers].find((c: Manifest) => c.name === 'migrate');
      for (const flag of migrate.args.filter((a: string) => a.startsWith('--')))
        expect(help, `${kind}: ${flag}`).toContain(flag);
    }
  });

  it('uses only settings tidemark knows', () => {
    const documented = readFileSync(join(ROOT, '.env.migrations.example'), 'utf8');
    for (const kind of ['Deployment', 'Job']) {
      const pod = podOf(find(kind));
      for (const c of [...(pod.initContainers ?? []), ...pod.containers].filter(
        (x: Manifest) => x.name === 'migrate',
      )) {
        for (const { name } of c.env)
          expect(documented, `${kind} sets ${name}`).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
      }
    }
  });
});

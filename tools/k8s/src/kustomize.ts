// A Go-free renderer for the subset of Kustomize that deploy/k8s uses, so `npm test` renders the
// manifests on any machine the project runs on (a fresh machine has no kubectl; Debian's
// kubernetes-client is 1.20, whose kustomize predates v5). Where kubectl exists, the tests render
// the same overlays with `kubectl kustomize` too and require the same objects.
//
// Supported kustomization.yaml fields (anything else is an error, never silently ignored):
//   resources   files (one or more YAML documents) and directories holding a kustomization.yaml
//   namespace   set on every namespaced object
//   labels      [{ pairs, includeSelectors: false }] added to metadata.labels
//   images      [{ name, newName?, newTag? }] for containers and initContainers of pod templates
//   replicas    [{ name, count }] for Deployments and StatefulSets
//   patches     [{ path | patch, target? }]: a strategic merge patch (an object naming its
//               apiVersion, kind and metadata.name) or a JSON 6902 list of operations with target
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const KNOWN_FIELDS = new Set([
  'apiVersion',
  'kind',
  'metadata',
  'resources',
  'namespace',
  'labels',
  'images',
  'replicas',
  'patches',
]);

/** Kinds that have no namespace (the ones deploy/k8s could contain). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
]);

/** Merge keys of the strategic merge patch for the lists deploy/k8s patches; other lists are replaced. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  imagePullSecrets: 'name',
  ports: 'containerPort',
  volumeMounts: 'mountPath',
};

export function readYamlDocuments(file: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const out: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

function kustomizationFile(dir: string): string {
  for (const name of ['kustomization.yaml', 'kustomization.yml', 'Kustomization']) {
    const f = join(dir, name);
    if (existsSync(f)) return f;
  }
  throw new Error(`${dir}: no kustomization.yaml`);
}

export const objectKey = (o: K8sObject): string =>
  `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** Renders the kustomization in `dir` (like `kubectl kustomize dir`) into a list of objects. */
export function kustomize(dir: string): K8sObject[] {
  const file = kustomizationFile(resolve(dir));
  const base = dirname(file);
  const [k] = readYamlDocuments(file) as unknown as Record<string, unknown>[];
  for (const field of Object.keys(k)) {
    if (!KNOWN_FIELDS.has(field))
      throw new Error(`${file}: field ${field} is not supported by this renderer`);
  }

  let objects: K8sObject[] = [];
  for (const entry of (k.resources as string[] | undefined) ?? []) {
    const path = join(base, entry);
    const found = statSync(path).isDirectory() ? kustomize(path) : readYamlDocuments(path);
    objects.push(...found);
  }

  for (const p of (k.patches as { path?: string; patch?: string; target?: Target }[] | undefined) ?? []) {
    const text = p.path ? readFileSync(join(base, p.path), 'utf8') : p.patch;
    if (!text) throw new Error(`${file}: a patch needs path or patch`);
    const docs = parseAllDocuments(text).map((d) => d.toJS() as Json);
    for (const doc of docs) objects = applyPatch(objects, doc, p.target, file);
  }

  const namespace = k.namespace as string | undefined;
  if (namespace) {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = namespace;
  }

  for (const l of (k.labels as { pairs: Record<string, string>; includeSelectors?: boolean }[] | undefined) ??
    []) {
    if (l.includeSelectors) throw new Error(`${file}: labels with includeSelectors are not supported`);
    for (const o of objects) o.metadata.labels = { ...(o.metadata.labels ?? {}), ...l.pairs };
  }

  for (const img of (k.images as { name: string; newName?: string; newTag?: string }[] | undefined) ?? []) {
    for (const o of objects) {
      for (const c of podContainers(o)) {
        const at = c.image.lastIndexOf(':');
        const slash = c.image.lastIndexOf('/');
        const [name, tag] = at > slash ? [c.image.slice(0, at), c.image.slice(at + 1)] : [c.image, undefined];
        if (name !== img.name) continue;
        const newTag = img.newTag ?? tag;
        c.image = `${img.newName ?? name}${newTag ? `:${newTag}` : ''}`;
      }
    }
  }

  for (const r of (k.replicas as { name: string; count: number }[] | undefined) ?? []) {
    const matches = objects.filter(
      (o) => (o.kind === 'Deployment' || o.kind === 'StatefulSet') && o.metadata.name === r.name,
    );
    if (!matches.length) throw new Error(`${file}: replicas: no Deployment or StatefulSet named ${r.name}`);
    for (const o of matches) (o.spec as JsonObject).replicas = r.count;
  }

  const seen = new Set<string>();
  for (const o of objects) {
    const key = objectKey(o);
    if (seen.has(key)) throw new Error(`${file}: ${key} is defined twice`);
    seen.add(key);
  }
  return objects;
}

type Target = { kind?: string; name?: string; namespace?: string };

function podContainers(o: K8sObject): { image: string }[] {
  const spec = o.spec as JsonObject | undefined;
  const template = spec?.template as JsonObject | undefined;
  const podSpec = template?.spec as JsonObject | undefined;
  if (!podSpec) return [];
  return [...((podSpec.containers as Json[]) ?? []), ...((podSpec.initContainers as Json[]) ?? [])] as {
    image: string;
  }[];
}

function applyPatch(
  objects: K8sObject[],
  patch: Json,
  target: Target | undefined,
  file: string,
): K8sObject[] {
  if (Array.isArray(patch)) {
    if (!target) throw new Error(`${file}: a JSON 6902 patch needs a target`);
    // kustomize reads a target's kind, name and namespace as anchored regular expressions
    const like = (pattern: string | undefined, value: string | undefined) =>
      pattern === undefined || new RegExp(`^(?:${pattern})$`).test(value ?? '');
    const matches = objects.filter(
      (o) =>
        like(target.kind, o.kind) &&
        like(target.name, o.metadata.name) &&
        like(target.namespace, o.metadata.namespace),
    );
    if (!matches.length) throw new Error(`${file}: patch target ${JSON.stringify(target)} matches nothing`);
    for (const o of matches)
      for (const op of patch) applyJson6902(o as unknown as JsonObject, op as JsonObject);
    return objects;
  }
  const p = patch as JsonObject;
  const meta = p.metadata as JsonObject | undefined;
  const kind = (target?.kind ?? p.kind) as string;
  const name = (target?.name ?? meta?.name) as string;
  if (p.$patch === 'delete') {
    const kept = objects.filter((o) => !(o.kind === kind && o.metadata.name === name));
    if (kept.length === objects.length)
      throw new Error(`${file}: delete patch ${kind}/${name} matches nothing`);
    return kept;
  }
  const matches = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (!matches.length) throw new Error(`${file}: patch ${kind}/${name} matches nothing`);
  return objects.map((o) =>
    matches.includes(o) ? (strategicMerge(o as unknown as Json, p, '') as unknown as K8sObject) : o,
  );
}

/** Strategic merge: maps merge, null deletes, lists with a merge key merge by it, other lists are replaced. */
export function strategicMerge(target: Json, patch: Json, field: string): Json {
  if (Array.isArray(patch)) {
    const key = MERGE_KEYS[field];
    if (!key || !Array.isArray(target)) return structuredClone(patch);
    const out = target.map((t) => structuredClone(t));
    for (const item of patch) {
      const itemKey = (item as JsonObject)[key];
      const i = out.findIndex((t) => (t as JsonObject)[key] === itemKey);
      if ((item as JsonObject).$patch === 'delete') {
        if (i >= 0) out.splice(i, 1);
      } else if (i >= 0) out[i] = strategicMerge(out[i], item, '');
      else out.push(structuredClone(item));
    }
    return out;
  }
  if (patch === null || typeof patch !== 'object') return patch;
  if (target === null || typeof target !== 'object' || Array.isArray(target)) return structuredClone(patch);
  const out: JsonObject = { ...(target as JsonObject) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = k in out ? strategicMerge(out[k], v, k) : structuredClone(v);
  }
  return out;
}

function applyJson6902(doc: JsonObject, op: JsonObject): void {
  const path = String(op.path)
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = path.pop();
  if (last === undefined) throw new Error(`JSON 6902: bad path ${String(op.path)}`);
  let parent: Json = doc;
  for (const seg of path) {
    parent = Array.isArray(parent) ? parent[Number(seg)] : (parent as JsonObject)[seg];
    if (parent === undefined || parent === null)
      throw new Error(`JSON 6902: ${String(op.path)} does not exist`);
  }
  const isArray = Array.isArray(parent);
  switch (String(op.op)) {
    case 'add':
      if (isArray) {
        const arr = parent as Json[];
        arr.splice(last === '-' ? arr.length : Number(last), 0, structuredClone(op.value));
      } else (parent as JsonObject)[last] = structuredClone(op.value);
      return;
    case 'replace':
      if (isArray) (parent as Json[])[Number(last)] = structuredClone(op.value);
      else {
        if (!(last in (parent as JsonObject)))
          throw new Error(`JSON 6902: ${String(op.path)} does not exist`);
        (parent as JsonObject)[last] = structuredClone(op.value);
      }
      return;
    case 'remove':
      if (isArray) (parent as Json[]).splice(Number(last), 1);
      else delete (parent as JsonObject)[last];
      return;
    default:
      throw new Error(`JSON 6902: op ${String(op.op)} is not supported`);
  }
}

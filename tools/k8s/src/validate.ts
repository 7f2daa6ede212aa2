// Validates rendered objects against pinned schemas, one validator per apiVersion and kind:
//   Kubernetes     kubernetes-models 5.1.0 (the Kubernetes v1.36 OpenAPI schemas)
//   Strimzi        @kubernetes-models/strimzi-kafka-operator 1.0.1 (the CRDs of Strimzi 0.49.0/1.0.0)
//   CloudNativePG  @kubernetes-models/cloudnative-pg 2.0.0 (generated from the api/v1 Go types)
// The validators are JSON-schema validators compiled by ajv from those schemas. An object whose
// apiVersion and kind have no schema here is an error: nothing is waved through unchecked.
// The schemas do not reject unknown fields, so strictFields() adds that check for the fields
// deploy/k8s writes most (a misspelt probe or securityContext field would otherwise pass).
import type { K8sObject } from './kustomize';

export type SchemaSource = 'kubernetes' | 'strimzi' | 'cloudnative-pg';

/** Pinned schema packages (package.json pins the exact versions). */
export const SCHEMA_VERSIONS: Record<SchemaSource, string> = {
  kubernetes: 'kubernetes-models 5.1.0 (Kubernetes v1.36 OpenAPI)',
  strimzi: '@kubernetes-models/strimzi-kafka-operator 1.0.1 (Strimzi CRDs 0.49.0 and 1.0.0)',
  'cloudnative-pg': '@kubernetes-models/cloudnative-pg 2.0.0 (CloudNativePG api/v1)',
};

type Loader = () => Promise<unknown>;

/**
 * The kinds deploy/k8s may use, each with its pinned schema (literal imports, so the dependency
 * checks see the packages). A kind not listed here is refused: add it here to use it.
 */
const SCHEMAS: Record<string, { source: SchemaSource; load: Loader }> = {
  'v1/ConfigMap': { source: 'kubernetes', load: () => import('kubernetes-models/v1/ConfigMap') },
  'v1/Namespace': { source: 'kubernetes', load: () => import('kubernetes-models/v1/Namespace') },
  'v1/Secret': { source: 'kubernetes', load: () => import('kubernetes-models/v1/Secret') },
  'v1/Service': { source: 'kubernetes', load: () => import('kubernetes-models/v1/Service') },
  'v1/ServiceAccount': { source: 'kubernetes', load: () => import('kubernetes-models/v1/ServiceAccount') },
  'v1/PersistentVolumeClaim': {
    source: 'kubernetes',
    load: () => import('kubernetes-models/v1/PersistentVolumeClaim'),
  },
  'apps/v1/Deployment': { source: 'kubernetes', load: () => import('kubernetes-models/apps/v1/Deployment') },
  'apps/v1/StatefulSet': {
    source: 'kubernetes',
    load: () => import('kubernetes-models/apps/v1/StatefulSet'),
  },
  'batch/v1/Job': { source: 'kubernetes', load: () => import('kubernetes-models/batch/v1/Job') },
  'batch/v1/CronJob': { source: 'kubernetes', load: () => import('kubernetes-models/batch/v1/CronJob') },
  'policy/v1/PodDisruptionBudget': {
    source: 'kubernetes',
    load: () => import('kubernetes-models/policy/v1/PodDisruptionBudget'),
  },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    source: 'kubernetes',
    load: () => import('kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'),
  },
  'networking.k8s.io/v1/NetworkPolicy': {
    source: 'kubernetes',
    load: () => import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy'),
  },
  'kafka.strimzi.io/v1/Kafka': {
    source: 'strimzi',
    load: () => import('@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1/Kafka'),
  },
  'kafka.strimzi.io/v1/KafkaNodePool': {
    source: 'strimzi',
    load: () => import('@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1/KafkaNodePool'),
  },
  'kafka.strimzi.io/v1/KafkaTopic': {
    source: 'strimzi',
    load: () => import('@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1/KafkaTopic'),
  },
  'kafka.strimzi.io/v1/KafkaUser': {
    source: 'strimzi',
    load: () => import('@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1/KafkaUser'),
  },
  'postgresql.cnpg.io/v1/Cluster': {
    source: 'cloudnative-pg',
    load: () => import('@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/Cluster'),
  },
  'postgresql.cnpg.io/v1/ScheduledBackup': {
    source: 'cloudnative-pg',
    load: () => import('@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/ScheduledBackup'),
  },
  'postgresql.cnpg.io/v1/Backup': {
    source: 'cloudnative-pg',
    load: () => import('@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/Backup'),
  },
};

export function schemaFor(apiVersion: string, kind: string): { source: SchemaSource; load: Loader } {
  const found = SCHEMAS[`${apiVersion}/${kind}`];
  if (!found) throw new Error(`${apiVersion} ${kind}: no schema is pinned for this kind`);
  return found;
}

type ModelClass = new (data: unknown) => { validate(): void };

export interface ValidationResult {
  object: string;
  source?: SchemaSource;
  errors: string[];
}

/** Validates one object; errors is empty when it conforms. */
export async function validateObject(o: K8sObject): Promise<ValidationResult> {
  const name = `${o?.kind}/${o?.metadata?.name}`;
  let found: { source: SchemaSource; load: Loader };
  try {
    found = schemaFor(String(o.apiVersion), String(o.kind));
  } catch (e) {
    return { object: name, errors: [(e as Error).message] };
  }
  let Model: ModelClass;
  try {
    const mod = (await found.load()) as Record<string, ModelClass>;
    Model = mod[o.kind];
    if (!Model) throw new Error('no model');
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    return {
      object: name,
      source: found.source,
      errors: [`${o.apiVersion} ${o.kind}: no schema in ${found.source} (${why})`],
    };
  }
  const errors: string[] = [];
  try {
    new Model(o).validate();
  } catch (e) {
    errors.push(...(e as Error).message.split(', data').map((m, i) => (i ? `data${m}` : m)));
  }
  errors.push(...strictFields(o));
  return { object: name, source: found.source, errors };
}

const CONTAINER_FIELDS = new Set([
  'name',
  'image',
  'imagePullPolicy',
  'command',
  'args',
  'workingDir',
  'ports',
  'env',
  'envFrom',
  'resources',
  'volumeMounts',
  'livenessProbe',
  'readinessProbe',
  'startupProbe',
  'lifecycle',
  'securityContext',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'restartPolicy',
  'stdin',
  'tty',
]);
const PROBE_FIELDS = new Set([
  'httpGet',
  'grpc',
  'tcpSocket',
  'exec',
  'initialDelaySeconds',
  'periodSeconds',
  'timeoutSeconds',
  'failureThreshold',
  'successThreshold',
  'terminationGracePeriodSeconds',
]);
const CONTAINER_SECURITY_FIELDS = new Set([
  'allowPrivilegeEscalation',
  'capabilities',
  'privileged',
  'procMount',
  'readOnlyRootFilesystem',
  'runAsGroup',
  'runAsNonRoot',
  'runAsUser',
  'seLinuxOptions',
  'seccompProfile',
  'appArmorProfile',
  'windowsOptions',
]);

/** Unknown fields in containers, their probes and security contexts (the schemas accept any). */
export function strictFields(o: K8sObject): string[] {
  const spec = o.spec as Record<string, unknown> | undefined;
  const template = spec?.template as Record<string, unknown> | undefined;
  const podSpec = template?.spec as Record<string, unknown> | undefined;
  if (!podSpec) return [];
  const errors: string[] = [];
  const unknown = (obj: unknown, allowed: Set<string>, path: string) => {
    if (!obj || typeof obj !== 'object') return;
    for (const k of Object.keys(obj)) if (!allowed.has(k)) errors.push(`${path}/${k} is not a known field`);
  };
  for (const list of ['containers', 'initContainers'] as const) {
    ((podSpec[list] as Record<string, unknown>[] | undefined) ?? []).forEach((c, i) => {
      const path = `data/spec/template/spec/${list}/${i}`;
      unknown(c, CONTAINER_FIELDS, path);
      for (const p of ['livenessProbe', 'readinessProbe', 'startupProbe'])
        unknown(c[p], PROBE_FIELDS, `${path}/${p}`);
      unknown(c.securityContext, CONTAINER_SECURITY_FIELDS, `${path}/securityContext`);
    });
  }
  return errors;
}

// deploy/k8s, checked without a cluster: both overlays render (tools/k8s/src/kustomize.ts, and
// `kubectl kustomize` too where kubectl exists), every object validates against the pinned
// Kubernetes, Strimzi and CloudNativePG schemas, and the platform rules hold. Deliberately broken
// objects (test/fixtures) must fail.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Registry } from 'prom-client';
import { parseAllDocuments } from 'yaml';
import { MessagingMetrics } from '@citybase/platform/messaging/metrics';
import { dbCluster, generatedFiles } from '../src/generate';
import { K8sObject, kustomize, objectKey, readYamlDocuments } from '../src/kustomize';
import {
  isInsideCity,
  kafkaViolations,
  networkViolations,
  podSpec,
  probeViolations,
  secretViolations,
  workloadViolations,
} from '../src/policy';
import { CONSUMER_LAG_METRIC, SERVICES } from '../src/services';
import { eventConsumers, serviceTopics } from '../src/topics';
import { SchemaSource, validateObject } from '../src/validate';

const ROOT = resolve(__dirname, '../../..');
const K8S = join(ROOT, 'deploy/k8s');
const OVERLAYS = ['dev', 'production'] as const;
const rendered: Record<string, K8sObject[]> = Object.fromEntries(
  OVERLAYS.map((o) => [o, kustomize(join(K8S, 'overlays', o))]),
);
const fixture = (name: string) => readYamlDocuments(join(__dirname, 'fixtures', name));
const find = (objects: K8sObject[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name}`);
  return o;
};
type Obj = Record<string, any>;
const pod = (o: K8sObject): Obj => podSpec(o) ?? {};

/** The service table of deploy/local/start.sh: name -> [gRPC port, HTTP port]. */
function startShPorts(): Map<string, [number, number]> {
  const text = readFileSync(join(ROOT, 'deploy/local/start.sh'), 'utf8');
  const table = (name: string) =>
    Object.fromEntries(
      [
        ...(new RegExp(`declare -A ${name}=\\(([^)]*)\\)`).exec(text)?.[1] ?? '').matchAll(
          /\[(\w+)\]=(\d+)/g,
        ),
      ].map((m) => [m[1], Number(m[2])]),
    );
  const grpc = table('GRPC_PORT');
  const http = table('HTTP_PORT');
  return new Map(Object.keys(grpc).map((k) => [k, [grpc[k], http[k]]]));
}

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  const objects = rendered[overlay];

  it('validates every object against the pinned schemas', async () => {
    const bySource: Record<SchemaSource, number> = { kubernetes: 0, strimzi: 0, 'cloudnative-pg': 0 };
    const failures: string[] = [];
    for (const o of objects) {
      const r = await validateObject(o);
      if (r.errors.length) failures.push(`${r.object}: ${r.errors.join('; ')}`);
      if (r.source) bySource[r.source]++;
    }
    expect(failures).toEqual([]);
    expect(bySource.kubernetes).toBeGreaterThan(50);
    expect(bySource.strimzi).toBeGreaterThanOrEqual(2 + serviceTopics(ROOT).length);
    expect(bySource['cloudnative-pg']).toBeGreaterThanOrEqual(SERVICES.length);
  });

  it('puts everything in the citybase namespace', () => {
    const stray = objects.filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== 'citybase');
    expect(stray.map(objectKey)).toEqual([]);
  });

  it('runs every container non-root, read-only, without privileges, with resources', () => {
    expect(workloadViolations(objects)).toEqual([]);
  });

  it('has a Deployment per service with /healthz and /readyz on the HTTP port of deploy/local/start.sh', () => {
    const ports = startShPorts();
    expect([...ports.keys()].sort()).toEqual(SERVICES.map((s) => s.name).sort());
    for (const s of SERVICES) {
      const [grpc, http] = ports.get(s.name) ?? [0, 0];
      expect([s.grpcPort, s.httpPort]).toEqual([grpc, http]);
      const d = find(objects, 'Deployment', s.name);
      expect(probeViolations(d, http, grpc)).toEqual([]);
      const container = (pod(d).containers as Obj[])[0];
      expect(container.args).toEqual([`services/${s.name}/dist/main.js`]);
      const config = find(objects, 'ConfigMap', `${s.name}-config`).data as Obj;
      expect(config).toMatchObject({
        GRPC_PORT: String(grpc),
        HTTP_PORT: String(http),
        GRPC_HOST: '0.0.0.0',
      });
      const svc = find(objects, 'Service', s.name).spec as Obj;
      expect(svc.ports.map((p: Obj) => p.port).sort()).toEqual([grpc, http].sort());
    }
  });

  it('gives each service its own CloudNativePG cluster and reads DATABASE_URL from its app secret', () => {
    for (const s of SERVICES) {
      const cluster = find(objects, 'Cluster', dbCluster(s.name));
      expect((cluster.spec as Obj).bootstrap.initdb).toEqual({
        database: `citybase_${s.name}`,
        owner: s.name,
      });
      const env = ((pod(find(objects, 'Deployment', s.name)).containers as Obj[])[0].env as Obj[]).find(
        (e) => e.name === 'DATABASE_URL',
      );
      expect(env?.valueFrom.secretKeyRef).toEqual({ name: `${dbCluster(s.name)}-app`, key: 'uri' });
    }
  });

  it('autoscales each service on CPU, and on the consumer lag gauge the services export when it consumes', () => {
    const registry = new Registry();
    MessagingMetrics.for(registry);
    expect(registry.getSingleMetric(CONSUMER_LAG_METRIC)).toBeDefined();
    for (const s of SERVICES) {
      const hpa = find(objects, 'HorizontalPodAutoscaler', s.name).spec as Obj;
      expect(hpa.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: s.name });
      const consumes = eventConsumers(ROOT).some((c) => c.startsWith(`${s.name}.`));
      expect(hpa.metrics.map((m: Obj) => m.resource?.name ?? m.pods?.metric.name)).toEqual(
        consumes ? ['cpu', CONSUMER_LAG_METRIC] : ['cpu'],
      );
      const pdb = find(objects, 'PodDisruptionBudget', s.name).spec as Obj;
      expect(pdb.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': s.name });
    }
  });

  it('denies by default and allows no internet egress', () => {
    expect(networkViolations(objects)).toEqual([]);
    expect(find(objects, 'NetworkPolicy', 'default-deny').spec).toEqual({
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
    });
  });

  it('lets a service reach only its own database, Kafka, Redis, identity, its callees and DNS', () => {
    for (const s of SERVICES) {
      const egress = (find(objects, 'NetworkPolicy', s.name).spec as Obj).egress as Obj[];
      const targets = egress.flatMap((r) =>
        r.to.map((t: Obj) => JSON.stringify(t.podSelector?.matchLabels ?? t.ipBlock)),
      );
      const expected = [
        { 'k8s-app': 'kube-dns' },
        { 'cnpg.io/cluster': dbCluster(s.name) },
        { 'strimzi.io/cluster': 'citybase', 'strimzi.io/broker-role': 'true' },
        { 'app.kubernetes.io/name': 'redis' },
        { 'app.kubernetes.io/name': 'identity' },
        ...(s.calls ?? []).map((c) => ({ 'app.kubernetes.io/name': c })),
        ...(s.mqtt ? [{ 'app.kubernetes.io/name': 'mosquitto' }] : []),
      ].map((x) => JSON.stringify(x));
      expect(targets).toEqual(expected);
      const db = (find(objects, 'NetworkPolicy', dbCluster(s.name)).spec as Obj).ingress[0].from as Obj[];
      expect(db[0].podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': s.name });
    }
  });

  it('runs Kafka in KRaft with replication factor 3 and min.insync.replicas 2, a topic for each one used', () => {
    expect(kafkaViolations(objects)).toEqual([]);
    const topics = objects.filter((o) => o.kind === 'KafkaTopic').map((t) => (t.spec as Obj).topicName);
    expect(topics.sort()).toEqual(serviceTopics(ROOT));
    expect(topics).toEqual(
      expect.arrayContaining(['citybase.iot.telemetry.v1', 'citybase.dlq.settlement.escrow']),
    );
  });

  it('commits no secret, only references to Secrets created out of band', () => {
    expect(secretViolations(objects)).toEqual([]);
  });

  it('runs Mosquitto with the dynamic-security plugin and no anonymous clients', () => {
    const conf = (find(objects, 'ConfigMap', 'mosquitto-config').data as Obj)['mosquitto.conf'] as string;
    expect(conf).toMatch(/^plugin \/usr\/lib\/mosquitto_dynamic_security\.so$/m);
    expect(conf).toMatch(/^plugin_opt_config_file /m);
    expect(conf).toMatch(/^allow_anonymous false$/m);
  });
});

describe('the overlays differ as intended', () => {
  const dev = rendered.dev;
  const prod = rendered.production;

  it('has the sandbox payment channel only in dev', () => {
    expect(dev.some((o) => o.metadata.name === 'sandbox-channel' && o.kind === 'Deployment')).toBe(true);
    expect(JSON.stringify(prod)).not.toMatch(/sandbox/);
    const channels = find(prod, 'NetworkPolicy', 'payment-channels').spec as Obj;
    expect(channels.egress[0].to[0].ipBlock.cidr).toBe('192.0.2.0/24');
  });

  it('runs production with more replicas, bigger resources, stricter PDBs and anti-affinity', () => {
    for (const s of SERVICES) {
      const d = find(dev, 'Deployment', s.name);
      const p = find(prod, 'Deployment', s.name);
      expect((d.spec as Obj).replicas).toBe(1);
      expect((p.spec as Obj).replicas).toBe(3);
      const pPod = pod(p);
      expect(pPod.affinity).toMatchObject({
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname' }],
        },
      });
      expect(pod(d).affinity).toBeUndefined();
      expect((pPod.containers as Obj[])[0].resources.limits.memory).toBe('1Gi');
      expect((find(prod, 'PodDisruptionBudget', s.name).spec as Obj).minAvailable).toBe(2);
      expect((find(prod, 'HorizontalPodAutoscaler', s.name).spec as Obj).minReplicas).toBe(3);
      expect((find(prod, 'Cluster', dbCluster(s.name)).spec as Obj).instances).toBe(3);
      expect((find(prod, 'Cluster', dbCluster(s.name)).spec as Obj).backup.barmanObjectStore).toBeDefined();
      expect(find(prod, 'ScheduledBackup', dbCluster(s.name))).toBeDefined();
    }
    expect((find(prod, 'Deployment', 'payment').spec as Obj).template.spec.containers[0].image).toBe(
      'registry.city.internal/citybase/citybase:0.1.0',
    );
  });
});

describe('the generated files', () => {
  it('are what `npx nx run k8s:generate` writes from the service table', () => {
    // compared as YAML documents: the committed files are the same text after Prettier
    const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as unknown);
    for (const [path, text] of Object.entries(generatedFiles(serviceTopics(ROOT)))) {
      const committed = readFileSync(join(K8S, path), 'utf8');
      expect({ path, header: committed.split('\n')[0], docs: docs(committed) }).toEqual({
        path,
        header: text.split('\n')[0],
        docs: docs(text),
      });
    }
  });
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
// kubectl is not on a fresh machine of this project's kind; where it is, it must agree with ours.
(kubectl.status === 0 ? it : it.skip)('renders the same objects as `kubectl kustomize`', () => {
  for (const overlay of OVERLAYS) {
    const out = execFileSync('kubectl', ['kustomize', join(K8S, 'overlays', overlay)], { encoding: 'utf8' });
    const theirs = parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
    const byKey = (list: K8sObject[]) => Object.fromEntries(list.map((o) => [objectKey(o), o]));
    expect(byKey(rendered[overlay])).toEqual(byKey(theirs));
  }
});

describe('deliberately broken objects', () => {
  it('a Deployment with a string replica count, a nameless container and a misspelt probe field fails', async () => {
    const [o] = fixture('broken-deployment.yaml');
    const { errors } = await validateObject(o);
    expect(errors).toEqual(
      expect.arrayContaining([
        'data/spec/replicas must be integer',
        'data/spec/template/spec/containers/0 must have required property name',
        'data/spec/template/spec/containers/0/livenessProbe/periodSecond is not a known field',
      ]),
    );
  });

  it('a KafkaTopic with string partitions fails the Strimzi schema', async () => {
    const [o] = fixture('broken-kafkatopic.yaml');
    expect((await validateObject(o)).errors).toEqual(['data/spec/partitions must be integer']);
  });

  it('a CloudNativePG Cluster with string instances fails its schema', async () => {
    const [o] = fixture('broken-cluster.yaml');
    expect((await validateObject(o)).errors).toEqual(['data/spec/instances must be integer']);
  });

  it('an object of an API group with no pinned schema is refused', async () => {
    const [o] = fixture('unknown-kind.yaml');
    expect((await validateObject(o)).errors).toEqual([
      'example.com/v1 Widget: no schema is pinned for this kind',
    ]);
  });

  it('a root, writable, unpinned workload with internet egress breaks the platform rules', async () => {
    const objects = fixture('insecure.yaml');
    for (const o of objects) expect((await validateObject(o)).errors).toEqual([]);
    const workload = workloadViolations(objects);
    expect(workload).toEqual(
      expect.arrayContaining([
        'Deployment/insecure container insecure: runAsNonRoot is not true',
        'Deployment/insecure container insecure: runs as uid 0',
        'Deployment/insecure container insecure: readOnlyRootFilesystem is not true',
        'Deployment/insecure container insecure: does not drop ALL capabilities',
        'Deployment/insecure container insecure: image busybox has no pinned tag',
      ]),
    );
    expect(networkViolations(objects)).toEqual([
      'namespace citybase: no default-deny NetworkPolicy for ingress and egress',
      'NetworkPolicy/insecure: an egress rule allows every port',
      'NetworkPolicy/insecure: egress to 0.0.0.0/0 reaches the internet',
      'NetworkPolicy/insecure: an egress rule allows every peer',
    ]);
  });

  it('Kafka with replication factor 1, an open listener and a topic with one replica break the rules', () => {
    const objects = structuredClone(rendered.production);
    const kafka = find(objects, 'Kafka', 'citybase').spec as Obj;
    kafka.kafka.config['default.replication.factor'] = 1;
    kafka.kafka.config['min.insync.replicas'] = 1;
    delete kafka.kafka.listeners[1].networkPolicyPeers;
    (find(objects, 'KafkaTopic', 'citybase.payment.events.v1').spec as Obj).replicas = 1;
    expect(kafkaViolations(objects)).toEqual([
      'Kafka/citybase: default.replication.factor is 1, not 3',
      'Kafka/citybase: min.insync.replicas is 1, not 2',
      'Kafka/citybase: listener tls has no networkPolicyPeers (open to every pod)',
      'KafkaTopic/citybase.payment.events.v1: replicas is not 3',
    ]);
  });

  it('tells the city from the internet', () => {
    expect(isInsideCity('10.96.0.1/32')).toBe(true);
    expect(isInsideCity('192.0.2.0/24')).toBe(true);
    expect(isInsideCity('0.0.0.0/0')).toBe(false);
    expect(isInsideCity('8.8.8.8/32')).toBe(false);
    expect(isInsideCity('172.32.0.0/16')).toBe(false);
  });
});

describe('the container image definition (deploy/k8s/Dockerfile; built where a Docker engine runs)', () => {
  const text = readFileSync(join(K8S, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const froms = lines.filter((l) => /^FROM /.test(l));
  const lastStage = lines.slice(lines.lastIndexOf(froms[froms.length - 1]));

  it('is multi-stage and ships only the build output into a distroless runtime', () => {
    expect(froms.length).toBeGreaterThanOrEqual(3);
    expect(froms[froms.length - 1]).toMatch(/^FROM \$\{RUNTIME_IMAGE\} AS runtime$/);
    expect(text).toMatch(/^ARG RUNTIME_IMAGE=gcr\.io\/distroless\/nodejs\d+-debian\d+:nonroot$/m);
    expect(lastStage.filter((l) => /^COPY /.test(l)).every((l) => /^COPY --from=prune /.test(l))).toBe(true);
    expect(lastStage.some((l) => /^RUN /.test(l))).toBe(false);
  });

  it('runs as a non-root numeric user and pins its base images', () => {
    const user = lastStage.filter((l) => /^USER /.test(l));
    expect(user).toEqual(['USER 65532:65532']);
    for (const arg of lines.filter((l) => /^ARG \w+_IMAGE=/.test(l))) expect(arg).toMatch(/:[\w.-]+$/);
    expect(text).not.toMatch(/:latest\b/);
    expect(text).not.toMatch(/^ADD /m);
  });

  it('starts the service named by the Deployment, like deploy/local/start.sh', () => {
    expect(lastStage).toContain('ENTRYPOINT ["/nodejs/bin/node", "--enable-source-maps"]');
    for (const s of SERVICES) {
      const d = find(rendered.production, 'Deployment', s.name);
      expect((pod(d).containers as Obj[])[0].args).toEqual([`services/${s.name}/dist/main.js`]);
    }
  });
});

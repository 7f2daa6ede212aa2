// The rules a city's platform team holds deploy/k8s to, beyond schema validity. Each check returns
// the violations it finds ("<Kind>/<name>: what is wrong"); an empty list is a pass.
import type { K8sObject } from './kustomize';

type Obj = Record<string, unknown>;
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);

const id = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
const get = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Obj)[k] : undefined), o);

export function podSpec(o: K8sObject): Obj | undefined {
  if (o.kind === 'CronJob')
    return get(o, 'spec', 'jobTemplate', 'spec', 'template', 'spec') as Obj | undefined;
  return get(o, 'spec', 'template', 'spec') as Obj | undefined;
}

/** Non-root, read-only root filesystem, no privilege escalation, ALL capabilities dropped, seccomp, resources. */
export function workloadViolations(objects: K8sObject[]): string[] {
  const out: string[] = [];
  for (const o of objects.filter((x) => WORKLOADS.has(x.kind))) {
    const pod = podSpec(o);
    if (!pod) {
      out.push(`${id(o)}: no pod template`);
      continue;
    }
    const podSec = (pod.securityContext ?? {}) as Obj;
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) out.push(`${id(o)}: uses the host's namespaces`);
    for (const v of (pod.volumes as Obj[] | undefined) ?? [])
      if (v.hostPath) out.push(`${id(o)}: mounts hostPath ${String(v.name)}`);
    const containers = [...((pod.containers as Obj[]) ?? []), ...((pod.initContainers as Obj[]) ?? [])];
    for (const c of containers) {
      const where = `${id(o)} container ${String(c.name)}`;
      const sec = (c.securityContext ?? {}) as Obj;
      if ((sec.runAsNonRoot ?? podSec.runAsNonRoot) !== true) out.push(`${where}: runAsNonRoot is not true`);
      const uid = sec.runAsUser ?? podSec.runAsUser;
      if (uid === 0) out.push(`${where}: runs as uid 0`);
      if (sec.readOnlyRootFilesystem !== true) out.push(`${where}: readOnlyRootFilesystem is not true`);
      if (sec.allowPrivilegeEscalation !== false) out.push(`${where}: allowPrivilegeEscalation is not false`);
      if (sec.privileged === true) out.push(`${where}: privileged`);
      const drop = (get(sec, 'capabilities', 'drop') as string[] | undefined) ?? [];
      if (!drop.includes('ALL')) out.push(`${where}: does not drop ALL capabilities`);
      if (get(sec, 'capabilities', 'add')) out.push(`${where}: adds capabilities`);
      const seccomp = get(sec, 'seccompProfile', 'type') ?? get(podSec, 'seccompProfile', 'type');
      if (seccomp !== 'RuntimeDefault') out.push(`${where}: seccomp profile is not RuntimeDefault`);
      if (!get(c, 'resources', 'requests', 'cpu') || !get(c, 'resources', 'requests', 'memory'))
        out.push(`${where}: no cpu and memory requests`);
      if (!get(c, 'resources', 'limits', 'memory')) out.push(`${where}: no memory limit`);
      if (typeof c.image === 'string' && (/:latest$/.test(c.image) || !/:[^/]+$/.test(c.image)))
        out.push(`${where}: image ${c.image} has no pinned tag`);
    }
  }
  return out;
}

/** A service Deployment: liveness /healthz and readiness /readyz on its HTTP port, and a gRPC port. */
export function probeViolations(o: K8sObject, httpPort: number, grpcPort: number): string[] {
  const out: string[] = [];
  const c = ((podSpec(o)?.containers as Obj[] | undefined) ?? [])[0];
  if (!c) return [`${id(o)}: no container`];
  const ports = (c.ports as Obj[] | undefined) ?? [];
  const portOf = (p: unknown) => (typeof p === 'number' ? p : ports.find((x) => x.name === p)?.containerPort);
  for (const [probe, path] of [
    ['livenessProbe', '/healthz'],
    ['readinessProbe', '/readyz'],
  ] as const) {
    const get1 = get(c, probe, 'httpGet') as Obj | undefined;
    if (!get1) out.push(`${id(o)}: no ${probe} over HTTP`);
    else {
      if (get1.path !== path) out.push(`${id(o)}: ${probe} path ${String(get1.path)}, not ${path}`);
      if (portOf(get1.port) !== httpPort) out.push(`${id(o)}: ${probe} is not on the HTTP port ${httpPort}`);
    }
  }
  if (!ports.some((p) => p.containerPort === grpcPort && p.name === 'grpc'))
    out.push(`${id(o)}: no grpc port ${grpcPort}`);
  if (!ports.some((p) => p.containerPort === httpPort && p.name === 'http'))
    out.push(`${id(o)}: no http port ${httpPort}`);
  return out;
}

const PRIVATE_OR_DOCUMENTATION = [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['192.0.2.0', 24],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
] as const;

const ipv4 = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);

/** True when the IPv4 CIDR lies inside a private or documentation range (never the internet). */
export function isInsideCity(cidr: string): boolean {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m) return false;
  const [ip, bits] = [ipv4(m[1]), Number(m[2])];
  return PRIVATE_OR_DOCUMENTATION.some(([net, size]) => {
    if (bits < size) return false;
    const block = 2 ** (32 - size);
    return Math.floor(ip / block) === Math.floor(ipv4(net) / block);
  });
}

/**
 * Network policies: a default deny of ingress and egress in every namespace used, every egress rule
 * names its destinations and ports, DNS only to kube-dns, no ipBlock outside private/documentation
 * ranges (so nothing allows the internet).
 */
export function networkViolations(objects: K8sObject[]): string[] {
  const out: string[] = [];
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  const namespaces = new Set(
    objects.filter((o) => o.kind !== 'Namespace' && o.metadata.namespace).map((o) => o.metadata.namespace),
  );
  for (const ns of namespaces) {
    const deny = policies.find(
      (p) =>
        p.metadata.namespace === ns &&
        Object.keys((get(p, 'spec', 'podSelector') as Obj | undefined) ?? { x: 1 }).length === 0 &&
        ['Ingress', 'Egress'].every((t) => ((get(p, 'spec', 'policyTypes') as string[]) ?? []).includes(t)) &&
        !((get(p, 'spec', 'ingress') as unknown[]) ?? []).length &&
        !((get(p, 'spec', 'egress') as unknown[]) ?? []).length,
    );
    if (!deny) out.push(`namespace ${ns}: no default-deny NetworkPolicy for ingress and egress`);
  }
  for (const p of policies) {
    const rules = [
      ...((get(p, 'spec', 'egress') as Obj[] | undefined) ?? []).map((r) => ['egress', r, r.to] as const),
      ...((get(p, 'spec', 'ingress') as Obj[] | undefined) ?? []).map((r) => ['ingress', r, r.from] as const),
    ];
    for (const [dir, rule, peers] of rules) {
      if (!Array.isArray(peers) || peers.length === 0) {
        out.push(`${id(p)}: an ${dir} rule allows every peer`);
        continue;
      }
      if (dir === 'egress' && !((rule.ports as unknown[]) ?? []).length)
        out.push(`${id(p)}: an egress rule allows every port`);
      for (const peer of peers as Obj[]) {
        const cidr = get(peer, 'ipBlock', 'cidr') as string | undefined;
        if (cidr !== undefined && !isInsideCity(cidr))
          out.push(`${id(p)}: ${dir} to ${cidr} reaches the internet`);
        if (
          peer.namespaceSelector &&
          Object.keys(peer.namespaceSelector as Obj).length === 0 &&
          !peer.podSelector
        )
          out.push(`${id(p)}: an ${dir} rule allows every namespace`);
      }
      const ports = ((rule.ports as Obj[] | undefined) ?? []).map((x) => x.port);
      if (dir === 'egress' && ports.includes(53)) {
        const dns = (peers as Obj[]).every(
          (peer) => get(peer, 'podSelector', 'matchLabels', 'k8s-app') === 'kube-dns',
        );
        if (!dns) out.push(`${id(p)}: DNS egress to something other than kube-dns`);
      }
    }
  }
  return out;
}

/** Kafka: KRaft node pools, three or more nodes, replication factor 3 and min.insync.replicas 2 everywhere. */
export function kafkaViolations(objects: K8sObject[]): string[] {
  const out: string[] = [];
  const kafkas = objects.filter((o) => o.kind === 'Kafka');
  if (kafkas.length !== 1) out.push(`expected one Kafka, found ${kafkas.length}`);
  for (const k of kafkas) {
    if (get(k, 'spec', 'zookeeper')) out.push(`${id(k)}: uses ZooKeeper`);
    const config = (get(k, 'spec', 'kafka', 'config') ?? {}) as Obj;
    const want: Record<string, number> = {
      'default.replication.factor': 3,
      'min.insync.replicas': 2,
      'offsets.topic.replication.factor': 3,
      'transaction.state.log.replication.factor': 3,
      'transaction.state.log.min.isr': 2,
    };
    for (const [key, value] of Object.entries(want))
      if (Number(config[key]) !== value) out.push(`${id(k)}: ${key} is ${String(config[key])}, not ${value}`);
    // Strimzi's own policy for a listener without networkPolicyPeers admits every pod of every namespace
    for (const l of (get(k, 'spec', 'kafka', 'listeners') as Obj[] | undefined) ?? [])
      if (!((l.networkPolicyPeers as unknown[] | undefined) ?? []).length)
        out.push(`${id(k)}: listener ${String(l.name)} has no networkPolicyPeers (open to every pod)`);
    const pools = objects.filter(
      (o) => o.kind === 'KafkaNodePool' && o.metadata.labels?.['strimzi.io/cluster'] === k.metadata.name,
    );
    const count = (role: string) =>
      pools
        .filter((p) => ((get(p, 'spec', 'roles') as string[]) ?? []).includes(role))
        .reduce((n, p) => n + Number(get(p, 'spec', 'replicas')), 0);
    if (count('controller') < 3) out.push(`${id(k)}: fewer than 3 KRaft controllers`);
    if (count('broker') < 3) out.push(`${id(k)}: fewer than 3 brokers`);
  }
  for (const t of objects.filter((o) => o.kind === 'KafkaTopic')) {
    if (get(t, 'spec', 'replicas') !== 3) out.push(`${id(t)}: replicas is not 3`);
    if (String(get(t, 'spec', 'config', 'min.insync.replicas')) !== '2')
      out.push(`${id(t)}: min.insync.replicas is not 2`);
  }
  return out;
}

/** No secret material committed: no Secret objects, no secret-looking keys in ConfigMaps. */
export function secretViolations(objects: K8sObject[]): string[] {
  const out: string[] = [];
  for (const o of objects) {
    if (o.kind === 'Secret') out.push(`${id(o)}: a Secret is committed (reference one created out of band)`);
    if (o.kind === 'ConfigMap')
      for (const key of Object.keys((o.data as Obj | undefined) ?? {}))
        if (/(PASSWORD|SECRET|TOKEN|CREDENTIALS|MASTER_KEY)/i.test(key) && !/_URL$/i.test(key))
          out.push(`${id(o)}: key ${key} looks secret`);
    const pod = WORKLOADS.has(o.kind) ? podSpec(o) : undefined;
    for (const c of ((pod?.containers as Obj[] | undefined) ?? []).concat(
      (pod?.initContainers as Obj[]) ?? [],
    ))
      for (const e of (c.env as Obj[] | undefined) ?? [])
        if (/(PASSWORD|SECRET|_KEY$|DATABASE_URL)/.test(String(e.name)) && e.value !== undefined)
          out.push(`${id(o)}: env ${String(e.name)} has a literal value`);
  }
  return out;
}

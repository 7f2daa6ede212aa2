import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kustomize, strategicMerge } from './kustomize';

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-render-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: web
          image: citybase:1.0
          env:
            - name: A
              value: "1"
            - name: B
              value: "2"
        - name: side
          image: other:2
`;

describe('kustomize (the subset deploy/k8s uses)', () => {
  it('merges containers and env by name, replaces other lists, deletes with null', () => {
    const merged = strategicMerge(
      {
        spec: {
          containers: [{ name: 'a', image: 'x', env: [{ name: 'A', value: '1' }] }],
          args: ['1', '2'],
          drop: 1,
        },
      },
      { spec: { containers: [{ name: 'a', env: [{ name: 'B', value: '2' }] }], args: ['3'], drop: null } },
      '',
    );
    expect(merged).toEqual({
      spec: {
        containers: [
          {
            name: 'a',
            image: 'x',
            env: [
              { name: 'A', value: '1' },
              { name: 'B', value: '2' },
            ],
          },
        ],
        args: ['3'],
      },
    });
  });

  it('applies namespace, labels, images, replicas, strategic merge and JSON 6902 patches', () => {
    const dir = tree({
      'web.yaml': deployment,
      'patch.yaml':
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          env:\n            - name: B\n              value: "3"\n',
      'kustomization.yaml': `resources: [web.yaml]
namespace: city
labels:
  - pairs: { team: platform }
images:
  - { name: citybase, newName: registry.local/citybase, newTag: "2.0" }
replicas:
  - { name: web, count: 5 }
patches:
  - path: patch.yaml
  - target: { kind: Deploy.*, name: "web|api" }
    patch: |-
      - op: add
        path: /spec/template/spec/containers/1/args
        value: [run]
      - op: remove
        path: /spec/template/spec/containers/0/env/0
`,
    });
    const [o] = kustomize(dir);
    expect(o.metadata).toEqual({ name: 'web', namespace: 'city', labels: { team: 'platform' } });
    const spec = o.spec as { replicas: number; template: { spec: { containers: unknown[] } } };
    expect(spec.replicas).toBe(5);
    expect(spec.template.spec.containers).toEqual([
      { name: 'web', image: 'registry.local/citybase:2.0', env: [{ name: 'B', value: '3' }] },
      { name: 'side', image: 'other:2', args: ['run'] },
    ]);
  });

  it('refuses what it does not support, and patches that match nothing', () => {
    expect(() => kustomize(tree({ 'kustomization.yaml': 'resources: []\nhelmCharts: []\n' }))).toThrow(
      'field helmCharts is not supported by this renderer',
    );
    const dir = tree({
      'web.yaml': deployment,
      'kustomization.yaml':
        'resources: [web.yaml]\npatches:\n  - target: { kind: Service }\n    patch: "[]"\n',
    });
    expect(() => kustomize(dir)).toThrow('matches nothing');
    expect(() =>
      kustomize(tree({ 'web.yaml': deployment, 'kustomization.yaml': 'resources: [web.yaml, web.yaml]\n' })),
    ).toThrow('Deployment//web is defined twice');
  });
});

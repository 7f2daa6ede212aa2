import * as ts from 'typescript';
import { featureFiles, featureTitle } from './feature-templates';
import { formatFiles } from './format';
import {
  camel,
  checkFeatureName,
  checkServiceName,
  featureNames,
  FeatureNames,
  pascal,
  snake,
  UsageError,
} from './names';
import { Refusal } from './service';
import { Tree } from './tree';

export interface FeatureWritten {
  created: string[];
  edited: string[];
}

const MIGRATION = /^(\d{4})_[a-z0-9_]+\.sql$/;

/** The next migration file of the service: one past the highest number in migrations/. */
export function nextMigration(tree: Tree, service: string, table: string): string {
  const numbers = tree.list(`services/${service}/migrations`).flatMap((f) => {
    const m = MIGRATION.exec(f);
    return m ? [Number(m[1])] : [];
  });
  const next = Math.max(0, ...numbers) + 1;
  return `${String(next).padStart(4, '0')}_${table}.sql`;
}

/**
 * Adds `import { X } from '<from>'` after the last import and X to the `imports` of the
 * file's @Module({...}) (creating the property when there is none).
 */
export function registerModule(path: string, text: string, moduleClass: string, from: string): string {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  let object: ts.ObjectLiteralExpression | undefined;
  const visit = (node: ts.Node): void => {
    if (
      ts.isDecorator(node) &&
      ts.isCallExpression(node.expression) &&
      node.expression.expression.getText(sf) === 'Module' &&
      node.expression.arguments[0] &&
      ts.isObjectLiteralExpression(node.expression.arguments[0])
    )
      object ??= node.expression.arguments[0];
    ts.forEachChild(node, visit);
  };
  visit(sf);
  if (!object) throw new Error(`${path}: no @Module({...}) to register ${moduleClass} in`);
  const imports = object.properties.find(
    (p): p is ts.PropertyAssignment => ts.isPropertyAssignment(p) && p.name.getText(sf) === 'imports',
  );
  let out: string;
  if (imports) {
    if (!ts.isArrayLiteralExpression(imports.initializer))
      throw new Error(`${path}: @Module imports is not an array literal; add ${moduleClass} by hand`);
    const elements = imports.initializer.elements;
    const last = elements[elements.length - 1];
    out = last
      ? `${text.slice(0, last.end)}, ${moduleClass}${text.slice(last.end)}`
      : `${text.slice(0, imports.initializer.getStart(sf) + 1)}${moduleClass}${text.slice(imports.initializer.getStart(sf) + 1)}`;
  } else {
    const at = object.getStart(sf) + 1;
    out = `${text.slice(0, at)} imports: [${moduleClass}],${text.slice(at)}`;
  }
  const lastImport = [...sf.statements].filter(ts.isImportDeclaration).pop();
  const at = lastImport ? lastImport.end : 0;
  return `${out.slice(0, at)}\nimport { ${moduleClass} } from '${from}';${out.slice(at)}`;
}

/** `feature <service> <feature>`: a new feature room in an existing service, registered in its module. */
export async function generateFeature(
  tree: Tree,
  service: string,
  feature: string,
  opts: { entity?: string } = {},
): Promise<FeatureWritten> {
  checkServiceName(service);
  checkFeatureName(feature);
  if (feature === service)
    throw new UsageError(
      `feature ${feature}: must not be named like its service (their modules would clash)`,
    );
  const serviceModule = `services/${service}/src/${service}.module.ts`;
  if (!tree.exists(serviceModule))
    throw new Refusal(
      `service ${service}: ${serviceModule} not found (make the service first: npm run generate -- service ${service})`,
    );
  const dir = `services/${service}/src/${feature}`;
  if (tree.exists(dir)) throw new Refusal(`feature ${feature} exists already (${dir}); nothing was written`);
  const names: FeatureNames = featureNames(service, feature);
  if (opts.entity !== undefined) {
    checkFeatureName(opts.entity);
    Object.assign(names, entityOverride(opts.entity));
  }
  const migration = nextMigration(tree, service, names.table);
  const doc = `docs/${service}.md`;
  const docText = tree.read(doc);
  const moduleText = registerModule(
    serviceModule,
    tree.need(serviceModule),
    `${names.Feature}Module`,
    `./${feature}/${feature}.module`,
  );
  const edits = [{ path: serviceModule, content: moduleText }];
  if (docText !== undefined)
    edits.push({
      path: doc,
      content: `${docText.trimEnd()}\n\n## ${featureTitle(names)}\n\n\`services/${service}/src/${feature}/\`, table \`${names.table}\` (migrations/${migration}): to be written.\n`,
    });
  const formatted = formatFiles([...edits, ...featureFiles(names, migration)]);
  for (const f of formatted) tree.write(f.path, f.content);
  return {
    created: formatted.slice(edits.length).map((f) => f.path),
    edited: edits.map((f) => f.path),
  };
}

function entityOverride(entity: string): Partial<FeatureNames> {
  return {
    entity,
    Entity: pascal(entity),
    entityCamel: camel(entity),
    idColumn: `${snake(entity)}_id`,
    idProp: `${camel(entity)}Id`,
    label: entity.split('-').join(' '),
  };
}

/**
 * Names the generator derives from a service or feature name. A service is one lower-case word (it
 * is a proto package part, a database name and an environment-free process name); a feature is
 * kebab-case (its folder), from which the PascalCase, camelCase and snake_case forms come.
 */

export const SERVICE_NAME = /^[a-z][a-z0-9]{1,19}$/;
export const FEATURE_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Names that are Nx projects or folders already, or would read badly as a service. */
const RESERVED = new Set([
  'platform',
  'contracts',
  'common',
  'cli',
  'e2e',
  'bench',
  'generate',
  'shared',
  'test',
]);

export class UsageError extends Error {}

export function checkServiceName(name: string): void {
  if (!SERVICE_NAME.test(name))
    throw new UsageError(
      `service name ${JSON.stringify(name)}: must be one lower-case word (letters and digits, 2-20, e.g. parking)`,
    );
  if (RESERVED.has(name))
    throw new UsageError(`service name ${name}: reserved (an existing project or folder name)`);
}

export function checkFeatureName(name: string): void {
  if (!FEATURE_NAME.test(name) || name.length > 40)
    throw new UsageError(
      `feature name ${JSON.stringify(name)}: must be kebab-case, at most 40 characters (e.g. coupons, device-commands)`,
    );
}

const words = (name: string) => name.split('-');
const cap = (w: string) => w.charAt(0).toUpperCase() + w.slice(1);

export const pascal = (name: string): string => words(name).map(cap).join('');
export const camel = (name: string): string => {
  const p = pascal(name);
  return p.charAt(0).toLowerCase() + p.slice(1);
};
export const snake = (name: string): string => words(name).join('_');

/**
 * The singular of a (kebab-case) feature name, for the example entity of a feature room:
 * coupons -> coupon, batches -> batch, policies -> policy, devices -> device; a name that does not
 * look plural (telemetry, status, access-log) stays as it is.
 */
export function singular(name: string): string {
  const parts = words(name);
  const last = parts[parts.length - 1] ?? name;
  let one = last;
  if (/[^aeiou]ies$/.test(last)) one = `${last.slice(0, -3)}y`;
  else if (/(ch|sh|ss|x|z)es$/.test(last)) one = last.slice(0, -2);
  else if (/[^su]s$/.test(last) && last.length > 3) one = last.slice(0, -1);
  return [...parts.slice(0, -1), one].join('-');
}

/** Everything the service templates need to know about a service. */
export interface ServiceNames {
  /** e.g. parking */
  name: string;
  /** e.g. Parking */
  Name: string;
  /** e.g. ParkingService */
  grpcService: string;
  /** e.g. citybase.parking.v1.ParkingService */
  fqService: string;
  database: string;
  topic: string;
}

export function serviceNames(name: string): ServiceNames {
  const Name = pascal(name);
  return {
    name,
    Name,
    grpcService: `${Name}Service`,
    fqService: `citybase.${name}.v1.${Name}Service`,
    database: `citybase_${name}`,
    topic: `citybase.${name}.events.v1`,
  };
}

/** Names of a feature room and of its example entity. */
export interface FeatureNames {
  service: ServiceNames;
  /** folder and file prefix, e.g. coupon-batches */
  feature: string;
  Feature: string;
  featureCamel: string;
  /** table name, e.g. coupon_batches */
  table: string;
  /** the example entity, e.g. coupon-batch */
  entity: string;
  Entity: string;
  entityCamel: string;
  /** its id column, e.g. coupon_batch_id */
  idColumn: string;
  /** proto field of its id, e.g. coupon_batch_id; ts-proto's property, e.g. couponBatchId */
  idProp: string;
  /** what an error message calls it, e.g. "coupon batch" */
  label: string;
}

export function featureNames(service: string, feature: string): FeatureNames {
  const entity = singular(feature);
  return {
    service: serviceNames(service),
    feature,
    Feature: pascal(feature),
    featureCamel: camel(feature),
    table: snake(feature),
    entity,
    Entity: pascal(entity),
    entityCamel: camel(entity),
    idColumn: `${snake(entity)}_id`,
    idProp: `${camel(entity)}Id`,
    label: words(entity).join(' '),
  };
}

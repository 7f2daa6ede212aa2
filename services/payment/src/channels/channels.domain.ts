import {
  CHANNEL_ID,
  DomainError,
  requestId,
  requiredEnum,
  requiredString,
  TENANT_ID,
} from '@citybase/platform';
import type { TenancyRef } from '@citybase/contracts/citybase/common/v1/common';
import {
  ChannelKind,
  ConfigureProjectChannelRequest,
  GetProjectChannelsRequest,
  PaymentScenario,
  RegisterChannelRequest,
  RoutingRule,
  SetChannelStatusRequest,
  SetRoutingRulesRequest,
} from '@citybase/contracts/citybase/payment/v1/payment';

/**
 * Rules of the channel catalog, project channel accounts and routing rules: requests validated into
 * commands (INVALID_ARGUMENT naming the proto field and the rule, before anything is read or
 * written). No I/O here.
 */

/** Sent in request headers to the provider: printable ASCII without spaces. */
const MERCHANT_NO = {
  max: 64,
  pattern: /^[\x21-\x7e]+$/,
  patternRule: 'must be 1-64 printable ASCII characters without spaces',
};

export const MAX_RULES = 50;
export const PRIORITY_MAX = 1000;
export const WEIGHT_MIN = 1;
export const WEIGHT_MAX = 10_000;
const CREDENTIALS_MIN = 16;
const CREDENTIALS_MAX = 512;
const ENDPOINT_MAX = 500;

export interface ProjectRef {
  operatorId: string;
  projectId: string;
}

export interface RegisterChannelCommand {
  requestId: string;
  channelId: string;
  kind: ChannelKind;
  displayName: string;
  endpoint: string;
}

export interface SetChannelStatusCommand {
  requestId: string;
  channelId: string;
  enabled: boolean;
}

export interface ConfigureProjectChannelCommand extends ProjectRef {
  requestId: string;
  channelId: string;
  merchantNo: string;
  /** The new merchant key; undefined keeps the stored one. Never logged or returned. */
  credentials: string | undefined;
  enabled: boolean;
}

/** One validated routing rule (the proto RoutingRule with its scenarios checked). */
export interface RoutingRuleSpec {
  channelId: string;
  priority: number;
  weight: number;
  /** Empty: every scenario. */
  scenarios: PaymentScenario[];
  minAmountMinor: bigint;
  /** 0: no upper bound. */
  maxAmountMinor: bigint;
}

export interface SetRoutingRulesCommand extends ProjectRef {
  requestId: string;
  rules: RoutingRuleSpec[];
}

export function channelId(field: string, value: string | undefined): string {
  return requiredString(field, value, CHANNEL_ID);
}

export function toRegisterChannelCommand(req: RegisterChannelRequest): RegisterChannelCommand {
  return {
    requestId: requestId(req.requestId),
    channelId: channelId('channel_id', req.channelId),
    kind: requiredEnum('kind', req.kind, ChannelKind) as ChannelKind,
    displayName: requiredString('display_name', req.displayName, { max: 100 }),
    endpoint: endpoint('endpoint', req.endpoint),
  };
}

export function toSetChannelStatusCommand(req: SetChannelStatusRequest): SetChannelStatusCommand {
  return {
    requestId: requestId(req.requestId),
    channelId: channelId('channel_id', req.channelId),
    enabled: req.enabled === true,
  };
}

export function toConfigureProjectChannelCommand(
  req: ConfigureProjectChannelRequest,
): ConfigureProjectChannelCommand {
  return {
    requestId: requestId(req.requestId),
    ...projectRef(req.tenancy),
    channelId: channelId('channel_id', req.channelId),
    merchantNo: requiredString('merchant_no', req.merchantNo, MERCHANT_NO),
    credentials: credentials('credentials', req.credentials),
    enabled: req.enabled === true,
  };
}

export function toSetRoutingRulesCommand(req: SetRoutingRulesRequest): SetRoutingRulesCommand {
  const cmd = { requestId: requestId(req.requestId), ...projectRef(req.tenancy) };
  const rules = req.rules ?? [];
  if (rules.length === 0 || rules.length > MAX_RULES)
    throw DomainError.invalid('rules', `must have 1-${MAX_RULES} rules`);
  return { ...cmd, rules: rules.map((rule, i) => routingRule(`rules[${i}]`, rule)) };
}

export function toGetProjectChannelsQuery(req: GetProjectChannelsRequest): ProjectRef {
  return projectRef(req.tenancy);
}

function projectRef(tenancy: TenancyRef | undefined): ProjectRef {
  const ref = {
    operatorId: requiredString('tenancy.operator_id', tenancy?.operatorId, TENANT_ID),
    projectId: requiredString('tenancy.project_id', tenancy?.projectId, TENANT_ID),
  };
  if ((tenancy?.merchantId ?? '') !== '')
    throw DomainError.invalid('tenancy.merchant_id', 'must be empty: channel accounts belong to a project');
  return ref;
}

function endpoint(field: string, value: string | undefined): string {
  const v = requiredString(field, value, { max: ENDPOINT_MAX });
  const rule = 'must be an http(s) URL without user info, query or fragment';
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw DomainError.invalid(field, rule);
  }
  const ok =
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.hostname !== '' &&
    url.username === '' &&
    url.password === '' &&
    url.search === '' &&
    url.hash === '' &&
    !v.includes('?') &&
    !v.includes('#');
  if (!ok) throw DomainError.invalid(field, rule);
  return v;
}

/** Empty: keep the stored credentials. Not trimmed: every character is part of the key. */
function credentials(field: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const length = [...value].length;
  if (length < CREDENTIALS_MIN || length > CREDENTIALS_MAX)
    throw DomainError.invalid(field, `must be ${CREDENTIALS_MIN}-${CREDENTIALS_MAX} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) throw DomainError.invalid(field, 'must not contain control characters');
  return value;
}

function routingRule(field: string, rule: RoutingRule): RoutingRuleSpec {
  const channel = channelId(`${field}.channel_id`, rule.channelId);
  const priority = rule.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > PRIORITY_MAX)
    throw DomainError.invalid(`${field}.priority`, `must be 0..${PRIORITY_MAX}`);
  const weight = rule.weight ?? 0;
  if (!Number.isInteger(weight) || weight < WEIGHT_MIN || weight > WEIGHT_MAX)
    throw DomainError.invalid(`${field}.weight`, `must be ${WEIGHT_MIN}..${WEIGHT_MAX}`);
  const scenarios: PaymentScenario[] = [];
  (rule.scenarios ?? []).forEach((s, j) => {
    const scenario = requiredEnum(`${field}.scenarios[${j}]`, s, PaymentScenario) as PaymentScenario;
    if (scenarios.includes(scenario))
      throw DomainError.invalid(`${field}.scenarios[${j}]`, `repeats ${PaymentScenario[scenario]}`);
    scenarios.push(scenario);
  });
  const min = rule.minAmountMinor ?? 0n;
  const max = rule.maxAmountMinor ?? 0n;
  if (min < 0n) throw DomainError.invalid(`${field}.min_amount_minor`, 'must not be negative');
  if (max < 0n) throw DomainError.invalid(`${field}.max_amount_minor`, 'must not be negative');
  if (max !== 0n && max < min)
    throw DomainError.invalid(
      `${field}.max_amount_minor`,
      'must be 0 (no upper bound) or at least min_amount_minor',
    );
  return {
    channelId: channel,
    priority,
    weight,
    scenarios,
    minAmountMinor: min,
    maxAmountMinor: max,
  };
}

/** Does a rule apply to a payment of this scenario and amount? */
export function ruleMatches(
  rule: Pick<RoutingRuleSpec, 'scenarios' | 'minAmountMinor' | 'maxAmountMinor'>,
  scenario: PaymentScenario,
  amountMinor: bigint,
): boolean {
  if (rule.scenarios.length > 0 && !rule.scenarios.includes(scenario)) return false;
  if (amountMinor < rule.minAmountMinor) return false;
  return rule.maxAmountMinor === 0n || amountMinor <= rule.maxAmountMinor;
}

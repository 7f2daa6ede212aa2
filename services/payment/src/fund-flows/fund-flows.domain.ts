import { DomainError, requiredEnum, requiredString } from '@citybase/platform';
import {
  FundFlowDimension,
  PaymentScenario,
  QueryFundFlowsRequest,
} from '@citybase/contracts/citybase/payment/v1/payment';

const ID = {
  max: 64,
  pattern: /^[A-Za-z0-9._:-]+$/,
  patternRule: 'must be 1-64 letters, digits, dots, dashes, colons or underscores',
};
const CHANNEL_ID = {
  max: 40,
  pattern: /^[a-z0-9-]+$/,
  patternRule: 'must be 1-40 lowercase letters, digits or dashes',
};
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
/** The city's time zone, UTC+8 (no daylight saving): days of fund flows are its days. */
export const CITY_UTC_OFFSET_HOURS = 8;
export const MAX_DAYS_APART = 366;
const DAY_MS = 86_400_000;

export interface FundFlowQuery {
  operatorId?: string;
  projectId?: string;
  channelId?: string;
  scenario?: PaymentScenario;
  fromDay: string;
  toDay: string;
  /** First instant of from_day and first instant after to_day, in the city's time zone. */
  from: Date;
  toExclusive: Date;
  groupBy: FundFlowDimension[];
}

/** Validates a QueryFundFlows request; throws INVALID_ARGUMENT naming the field. */
export function toFundFlowQuery(req: QueryFundFlowsRequest): FundFlowQuery {
  const optional = (field: string, value: string, rules: typeof ID) =>
    value.trim() === '' ? undefined : requiredString(field, value, rules);
  const operatorId = optional('operator_id', req.operatorId ?? '', ID);
  const projectId = optional('project_id', req.projectId ?? '', ID);
  const channelId = optional('channel_id', req.channelId ?? '', CHANNEL_ID);
  const scenario = !req.scenario
    ? undefined
    : (requiredEnum('scenario', req.scenario, PaymentScenario) as PaymentScenario);
  const fromDay = requiredString('from_day', req.fromDay, { max: 10 });
  const toDay = requiredString('to_day', req.toDay, { max: 10 });
  const fromStart = dayStartUtcMs('from_day', fromDay);
  const toStart = dayStartUtcMs('to_day', toDay);
  if (toStart < fromStart) throw DomainError.invalid('to_day', 'must not be before from_day');
  if ((toStart - fromStart) / DAY_MS > MAX_DAYS_APART)
    throw DomainError.invalid('to_day', `must be at most ${MAX_DAYS_APART} days after from_day`);
  const groupBy: FundFlowDimension[] = [];
  for (const value of req.groupBy ?? []) {
    const dimension = requiredEnum('group_by', value, FundFlowDimension) as FundFlowDimension;
    if (groupBy.includes(dimension)) throw DomainError.invalid('group_by', 'must not repeat a dimension');
    groupBy.push(dimension);
  }
  const offsetMs = CITY_UTC_OFFSET_HOURS * 3_600_000;
  return {
    ...(operatorId !== undefined && { operatorId }),
    ...(projectId !== undefined && { projectId }),
    ...(channelId !== undefined && { channelId }),
    ...(scenario !== undefined && { scenario }),
    fromDay,
    toDay,
    from: new Date(fromStart - offsetMs),
    toExclusive: new Date(toStart + DAY_MS - offsetMs),
    groupBy,
  };
}

/** Midnight UTC of a "YYYY-MM-DD" calendar day (the offset is applied by the caller). */
function dayStartUtcMs(field: string, day: string): number {
  const m = DAY.exec(day);
  const rule = 'must be a calendar day YYYY-MM-DD';
  if (!m) throw DomainError.invalid(field, rule);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) {
    throw DomainError.invalid(field, rule);
  }
  return ms;
}

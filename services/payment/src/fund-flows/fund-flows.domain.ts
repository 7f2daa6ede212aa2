import {
  calendarDayUtcMs,
  CHANNEL_ID,
  DomainError,
  requiredEnum,
  requiredString,
  StringRule,
  TENANT_ID,
} from '@citybase/platform';
import {
  FundFlowDimension,
  PaymentScenario,
  QueryFundFlowsRequest,
} from '@citybase/contracts/citybase/payment/v1/payment';

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
  const optional = (field: string, value: string, rules: StringRule) =>
    value.trim() === '' ? undefined : requiredString(field, value, rules);
  const operatorId = optional('operator_id', req.operatorId ?? '', TENANT_ID);
  const projectId = optional('project_id', req.projectId ?? '', TENANT_ID);
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
  const ms = calendarDayUtcMs(day);
  if (ms === undefined) throw DomainError.invalid(field, 'must be a calendar day YYYY-MM-DD');
  return ms;
}

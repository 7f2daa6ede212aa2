import { toTimestamp } from '@citybase/platform';
import type { Channel, ProjectChannel, RoutingRule } from '@citybase/contracts/citybase/payment/v1/payment';
import type { ChannelRow, ProjectChannelRow, RoutingRuleRow } from './channels.store';

/** Rows to proto messages. A project channel's credentials are never rendered, only whether it has them. */

export function toChannel(row: ChannelRow): Channel {
  return {
    channelId: row.channel_id,
    kind: row.kind,
    displayName: row.display_name,
    endpoint: row.endpoint,
    enabled: row.enabled,
    createdAt: toTimestamp(row.created_at),
  };
}

export function toProjectChannel(row: ProjectChannelRow): ProjectChannel {
  return {
    operatorId: row.operator_id,
    projectId: row.project_id,
    channelId: row.channel_id,
    merchantNo: row.merchant_no,
    hasCredentials: row.credentials_enc.length > 0,
    enabled: row.enabled,
    updatedAt: toTimestamp(row.updated_at),
  };
}

export function toRoutingRule(row: RoutingRuleRow): RoutingRule {
  return {
    channelId: row.channel_id,
    priority: row.priority,
    weight: row.weight,
    scenarios: [...row.scenarios],
    minAmountMinor: row.min_amount_minor,
    maxAmountMinor: row.max_amount_minor,
  };
}

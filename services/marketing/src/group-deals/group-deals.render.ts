import { toTimestamp } from '@citybase/platform';
import {
  GroupDeal,
  GroupDealStatus,
  Participant,
  ParticipantStatus as ParticipantStatusProto,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import type { DealStatus, ParticipantStatus } from './group-deals.domain';
import type { DealRow, ParticipantRow } from './group-deals.store';

/** Proto answers (and event payloads) of group buying. */

const DEAL_STATUS: Record<DealStatus, GroupDealStatus> = {
  OPEN: GroupDealStatus.GROUP_DEAL_STATUS_OPEN,
  SUCCEEDED: GroupDealStatus.GROUP_DEAL_STATUS_SUCCEEDED,
  FAILED: GroupDealStatus.GROUP_DEAL_STATUS_FAILED,
};

const PARTICIPANT_STATUS: Record<ParticipantStatus, ParticipantStatusProto> = {
  PENDING: ParticipantStatusProto.PARTICIPANT_STATUS_PENDING,
  PAID: ParticipantStatusProto.PARTICIPANT_STATUS_PAID,
  RELEASED: ParticipantStatusProto.PARTICIPANT_STATUS_RELEASED,
  REFUNDED: ParticipantStatusProto.PARTICIPANT_STATUS_REFUNDED,
  WITHDRAWN: ParticipantStatusProto.PARTICIPANT_STATUS_WITHDRAWN,
};

export function dealToProto(d: DealRow): GroupDeal {
  return {
    dealId: d.deal_id,
    tenancy: { operatorId: d.operator_id, projectId: d.project_id, merchantId: d.merchant_id },
    title: d.title,
    itemCode: d.item_code,
    price: { currency: d.price_currency, amountMinor: d.price_minor },
    minParticipants: d.min_participants,
    maxParticipants: d.max_participants,
    deadline: toTimestamp(d.deadline),
    status: DEAL_STATUS[d.status],
    paid: d.paid,
    pending: d.pending,
    createdAt: toTimestamp(d.created_at),
    endedAt: d.ended_at ? toTimestamp(d.ended_at) : undefined,
  };
}

export function participantToProto(p: ParticipantRow): Participant {
  return {
    participantId: p.participant_id,
    userId: p.user_id,
    status: PARTICIPANT_STATUS[p.status],
    paymentId: p.payment_id ?? '',
    payUrl: p.pay_url,
    joinedAt: toTimestamp(p.joined_at),
    holdExpiresAt: toTimestamp(p.hold_expires_at),
  };
}

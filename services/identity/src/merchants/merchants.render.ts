import { toTimestamp } from '@citybase/platform';
import { Merchant, MerchantStatus } from '@citybase/contracts/citybase/identity/v1/tenancy';
import type { MerchantView } from './merchants.service';

// Stored merchants to proto messages. Pure: what a caller may see (masking) is decided before this.

export function toMerchant({ row, ownerIdNumber, contactPhone }: MerchantView): Merchant {
  return {
    merchantId: row.merchant_id,
    operatorId: row.operator_id,
    projectId: row.project_id,
    name: row.name,
    status: row.status as MerchantStatus,
    location: row.location,
    unitId: row.unit_id ?? '',
    ownerName: row.owner_name,
    ownerIdNumber,
    contactPhone,
    leaseRef: row.lease_ref,
    businessScope: row.business_scope,
    photoRefs: row.photo_refs,
    registeredByStaffId: row.registered_by_staff_id,
    createdAt: toTimestamp(row.created_at),
    statusChangedAt: row.status_changed_at ? toTimestamp(row.status_changed_at) : undefined,
    statusReason: row.status_reason,
  };
}

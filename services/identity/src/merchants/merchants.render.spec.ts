import { MerchantStatus } from '@citybase/contracts/citybase/identity/v1/tenancy';
import { toMerchant } from './merchants.render';
import type { MerchantRow } from './merchants.store';

const created = new Date('2026-03-04T05:06:07.890Z');

function merchantRow(over: Partial<MerchantRow> = {}): MerchantRow {
  return {
    merchant_id: 'm-1',
    operator_id: 'op-1',
    project_id: 'p-1',
    name: 'Noodle House',
    status: MerchantStatus.MERCHANT_STATUS_PENDING,
    location: 'Block 3',
    unit_id: null,
    owner_name: 'Li Wei',
    owner_id_number_enc: Buffer.from('sealed'),
    owner_id_number_masked: '1101**********002X',
    contact_phone_enc: Buffer.from('sealed'),
    contact_phone_masked: '138****5678',
    lease_ref: 'L-1',
    business_scope: 'food',
    photo_refs: ['a.jpg'],
    registered_by_staff_id: 's-1',
    status_reason: '',
    status_changed_at: null,
    created_at: created,
    cursor_at: '2026-03-04T05:06:07.890123Z',
    ...over,
  };
}

describe('rendering merchants as proto messages', () => {
  it('renders a merchant with the personal values it is given, an empty unit and no status change yet', () => {
    const m = toMerchant({ row: merchantRow(), ownerIdNumber: 'shown-id', contactPhone: 'shown-phone' });
    expect(m).toMatchObject({
      merchantId: 'm-1',
      status: MerchantStatus.MERCHANT_STATUS_PENDING,
      unitId: '',
      ownerIdNumber: 'shown-id',
      contactPhone: 'shown-phone',
      photoRefs: ['a.jpg'],
      statusChangedAt: undefined,
      createdAt: { seconds: BigInt(Math.floor(created.getTime() / 1000)), nanos: 890_000_000 },
    });
  });

  it('renders the unit and the time of the last status change when there are', () => {
    const changed = new Date('2026-03-05T00:00:00.000Z');
    const m = toMerchant({
      row: merchantRow({ unit_id: 'u-1', status_changed_at: changed, status_reason: 'lease signed' }),
      ownerIdNumber: '',
      contactPhone: '',
    });
    expect(m).toMatchObject({
      unitId: 'u-1',
      statusReason: 'lease signed',
      statusChangedAt: { seconds: BigInt(changed.getTime() / 1000), nanos: 0 },
    });
  });
});

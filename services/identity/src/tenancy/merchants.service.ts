import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  hasScope,
  inTenancy,
  Logger,
  LOGGER,
  Outbox,
  OUTBOX,
  PG_POOL,
  pageOf,
  Pool,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { IdentityEvents } from '@citybase/contracts/events';
import { MerchantStatus } from '@citybase/contracts/citybase/identity/v1/tenancy';
import { onceByRequestId } from '@citybase/platform';
import { PiiCipher } from '../shared/pii';
import { PII_CIPHER } from '../shared/shared.module';
import {
  assertMerchantTransition,
  assertPropertyStaffOf,
  Page,
  Paged,
  RegisterMerchantCommand,
  SetMerchantStatusCommand,
  stored,
  TENANCY_PAGES,
  visibilityOf,
} from './tenancy.domain';
import { notFound, unitNotInProject } from './tenancy.errors';
import {
  findMerchant,
  findMerchantForUpdate,
  findProject,
  findStaffForShare,
  findUnit,
  insertMerchant,
  listMerchants,
  MerchantRow,
  updateMerchantStatus,
} from './tenancy.store';

/** The scope that lets a caller see phone and ID numbers in full. */
export const PII_READ_SCOPE = 'identity:pii.read';

/** A merchant as one caller may see it: owner ID number and contact phone full or masked. */
export interface MerchantView {
  row: MerchantRow;
  ownerIdNumber: string;
  contactPhone: string;
}

/** AAD of a merchant's sealed values: binds each ciphertext to its column and row. */
export function merchantPiiContext(column: 'owner_id_number' | 'contact_phone', merchantId: string): string {
  return `merchants.${column}/${merchantId}`;
}

/**
 * Merchants of a project: registered PENDING by the project's property staff, then activated,
 * suspended and reactivated by them. Owner ID number and contact phone are stored sealed and shown
 * in full only to callers with identity:pii.read.
 */
@Injectable()
export class MerchantsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(PII_CIPHER) private readonly cipher: PiiCipher,
  ) {}

  async register(claims: CitybaseClaims, cmd: RegisterMerchantCommand): Promise<MerchantView> {
    // The fingerprint tells a retry from a different request; it gets lookup hashes, not the values.
    const fingerprinted = {
      ...cmd,
      ownerIdNumber: this.cipher.lookupHash('id_number', cmd.ownerIdNumber).toString('hex'),
      contactPhone: this.cipher.lookupHash('phone', cmd.contactPhone).toString('hex'),
    };
    const { row, replayed } = await withTransaction(this.pool, async (client) => {
      const project = await findProject(client, cmd.projectId);
      if (!project) throw notFound('project', 'project_id');
      assertTenancy(claims, { operatorId: project.operator_id, projectId: project.project_id });
      const once = await onceByRequestId(
        client,
        {
          clientId: claims.sub,
          method: 'TenancyService.RegisterMerchant',
          requestId: cmd.requestId,
          command: fingerprinted,
        },
        async (id) => {
          assertPropertyStaffOf(
            await findStaffForShare(client, cmd.registeredByStaffId),
            project.project_id,
            'registered_by_staff_id',
          );
          if (cmd.unitId !== null) {
            const unit = await findUnit(client, cmd.unitId);
            if (!unit || unit.project_id !== project.project_id) throw unitNotInProject();
          }
          const merchant = await insertMerchant(
            client,
            id,
            project,
            cmd,
            {
              ownerIdNumber: this.cipher.seal(
                'id_number',
                cmd.ownerIdNumber,
                merchantPiiContext('owner_id_number', id),
              ),
              contactPhone: this.cipher.seal(
                'phone',
                cmd.contactPhone,
                merchantPiiContext('contact_phone', id),
              ),
            },
            MerchantStatus.MERCHANT_STATUS_PENDING,
          );
          await this.outbox.enqueue(
            client,
            IdentityEvents.MerchantRegistered,
            {
              merchantId: merchant.merchant_id,
              projectId: merchant.project_id,
              operatorId: merchant.operator_id,
              name: merchant.name,
              businessScope: merchant.business_scope,
              registeredByStaffId: merchant.registered_by_staff_id,
              occurredAt: toTimestamp(merchant.created_at),
            },
            {
              key: merchant.operator_id,
              subject: merchant.merchant_id,
              tenancy: {
                operatorId: merchant.operator_id,
                projectId: merchant.project_id,
                merchantId: merchant.merchant_id,
              },
            },
          );
        },
      );
      return { row: stored(await findMerchant(client, once.resourceId)), replayed: once.replayed };
    });
    if (!replayed) {
      this.logger.info({ merchant_id: row.merchant_id, project_id: row.project_id }, 'merchant registered');
    }
    return this.view(claims, row);
  }

  async setStatus(claims: CitybaseClaims, cmd: SetMerchantStatusCommand): Promise<MerchantView> {
    const { row, change } = await withTransaction(this.pool, async (client) => {
      // Locked first: concurrent changes of one merchant apply one after the other, each seeing
      // the status the previous one left.
      const merchant = await findMerchantForUpdate(client, cmd.merchantId);
      if (!merchant) throw notFound('merchant', 'merchant_id');
      assertTenancy(claims, { operatorId: merchant.operator_id, projectId: merchant.project_id });
      let previous: MerchantStatus | undefined;
      await onceByRequestId(
        client,
        {
          clientId: claims.sub,
          method: 'TenancyService.SetMerchantStatus',
          requestId: cmd.requestId,
          command: cmd,
        },
        async () => {
          previous = merchant.status as MerchantStatus;
          assertMerchantTransition(previous, cmd.status);
          assertPropertyStaffOf(
            await findStaffForShare(client, cmd.changedByStaffId),
            merchant.project_id,
            'changed_by_staff_id',
          );
          const updated = await updateMerchantStatus(client, merchant.merchant_id, cmd.status, cmd.reason);
          await this.outbox.enqueue(
            client,
            IdentityEvents.MerchantStatusChanged,
            {
              merchantId: updated.merchant_id,
              projectId: updated.project_id,
              operatorId: updated.operator_id,
              status: cmd.status,
              previousStatus: previous,
              reason: cmd.reason,
              changedByStaffId: cmd.changedByStaffId,
              occurredAt: toTimestamp(updated.status_changed_at ?? new Date()),
            },
            {
              key: updated.operator_id,
              subject: updated.merchant_id,
              tenancy: {
                operatorId: updated.operator_id,
                projectId: updated.project_id,
                merchantId: updated.merchant_id,
              },
            },
          );
        },
      );
      // The idempotency key's resource id is not the merchant's: a status change names its
      // merchant in the request, and a replay carries the same request.
      return { row: stored(await findMerchant(client, cmd.merchantId)), change: previous };
    });
    if (change !== undefined) {
      this.logger.info(
        { merchant_id: row.merchant_id, from: change, to: cmd.status, staff_id: cmd.changedByStaffId },
        'merchant status changed',
      );
    }
    return this.view(claims, row);
  }

  async get(claims: CitybaseClaims, merchantId: string): Promise<MerchantView> {
    const row = await findMerchant(this.pool, merchantId);
    if (!row || !inTenancy(claims, { operatorId: row.operator_id, projectId: row.project_id })) {
      throw notFound('merchant', 'merchant_id');
    }
    return this.view(claims, row);
  }

  /** The merchants of one project that the caller may see (none if the project is foreign or unknown). */
  async list(claims: CitybaseClaims, projectId: string, page: Page): Promise<Paged<MerchantView>> {
    const rows = await listMerchants(this.pool, projectId, visibilityOf(claims), page);
    const { rows: items, nextPageToken } = pageOf(rows, page.size, TENANCY_PAGES.merchants, (r) => [
      r.cursor_at,
      r.merchant_id,
    ]);
    return { items: items.map((r) => this.view(claims, r)), nextPageToken };
  }

  private view(claims: CitybaseClaims, row: MerchantRow): MerchantView {
    if (!hasScope(claims, PII_READ_SCOPE)) {
      return { row, ownerIdNumber: row.owner_id_number_masked, contactPhone: row.contact_phone_masked };
    }
    return {
      row,
      ownerIdNumber: this.cipher.decrypt(
        row.owner_id_number_enc,
        merchantPiiContext('owner_id_number', row.merchant_id),
      ),
      contactPhone: this.cipher.decrypt(
        row.contact_phone_enc,
        merchantPiiContext('contact_phone', row.merchant_id),
      ),
    };
  }
}

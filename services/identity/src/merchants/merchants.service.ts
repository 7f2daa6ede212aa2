import { forwardRef, Inject, Injectable } from '@nestjs/common';
import {
  CitybaseClaims,
  hasScope,
  Mutations,
  PG_POOL,
  Pool,
  PoolClient,
  toTimestamp,
} from '@citybase/platform';
import { IdentityEvents } from '@citybase/contracts/events';
import { MerchantStatus } from '@citybase/contracts/citybase/identity/v1/tenancy';
import { PeopleService } from '../people/people.service';
import { PiiCipher } from '../shared/pii';
import {
  Page,
  Paged,
  pagedByCreation,
  readable,
  stored,
  tenancyOf,
  visibilityOf,
  writeTarget,
} from '../shared/rows.domain';
import { notFound } from '../shared/shared.errors';
import type { Cyclic } from '../shared/forward-ref';
import { PII_CIPHER } from '../shared/shared.module';
import { TenancyService } from '../tenancy/tenancy.service';
import {
  assertMerchantTransition,
  assertPropertyStaffOf,
  MERCHANT_PAGES,
  RegisterMerchantCommand,
  SetMerchantStatusCommand,
} from './merchants.domain';
import { unitNotInProject } from './merchants.errors';
import {
  findMerchant,
  findMerchantForUpdate,
  insertMerchant,
  listMerchants,
  MerchantRow,
  updateMerchantStatus,
} from './merchants.store';

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
    private readonly mutations: Mutations,
    @Inject(PII_CIPHER) private readonly cipher: PiiCipher,
    private readonly tenancy: TenancyService,
    // see PeopleService: merchants and people refer to each other
    @Inject(forwardRef(() => PeopleService)) private readonly people: Cyclic<PeopleService>,
  ) {}

  async register(claims: CitybaseClaims, cmd: RegisterMerchantCommand): Promise<MerchantView> {
    // The fingerprint tells a retry from a different request; it gets lookup hashes, not the values.
    const fingerprinted = {
      ...cmd,
      ownerIdNumber: this.cipher.lookupHash('id_number', cmd.ownerIdNumber).toString('hex'),
      contactPhone: this.cipher.lookupHash('phone', cmd.contactPhone).toString('hex'),
    };
    const row = await this.mutations.run({
      method: 'TenancyService.RegisterMerchant',
      claims,
      requestId: cmd.requestId,
      command: fingerprinted,
      target: writeTarget(
        (client) => this.tenancy.findProject(client, cmd.projectId),
        tenancyOf,
        () => notFound('project', 'project_id'),
      ),
      done: 'merchant registered',
      execute: async ({ client, resourceId: id, target: project, emit, note }) => {
        assertPropertyStaffOf(
          await this.people.findStaffForShare(client, cmd.registeredByStaffId),
          project.project_id,
          'registered_by_staff_id',
        );
        if (cmd.unitId !== null) {
          const unit = await this.tenancy.findUnit(client, cmd.unitId);
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
        await emit(
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
        note({ merchant_id: merchant.merchant_id, project_id: merchant.project_id });
        return stored(await findMerchant(client, id));
      },
      replay: async ({ client, resourceId }) => stored(await findMerchant(client, resourceId)),
    });
    return this.view(claims, row);
  }

  async setStatus(claims: CitybaseClaims, cmd: SetMerchantStatusCommand): Promise<MerchantView> {
    const row = await this.mutations.run({
      method: 'TenancyService.SetMerchantStatus',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      // the key's resource is the merchant the request names (a replay carries the same request)
      resourceId: cmd.merchantId,
      // Locked first: concurrent changes of one merchant apply one after the other, each seeing
      // the status the previous one left.
      target: writeTarget(
        (client) => findMerchantForUpdate(client, cmd.merchantId),
        tenancyOf,
        () => notFound('merchant', 'merchant_id'),
      ),
      done: 'merchant status changed',
      execute: async ({ client, target: merchant, emit, note }) => {
        const previous = merchant.status as MerchantStatus;
        assertMerchantTransition(previous, cmd.status);
        assertPropertyStaffOf(
          await this.people.findStaffForShare(client, cmd.changedByStaffId),
          merchant.project_id,
          'changed_by_staff_id',
        );
        const updated = await updateMerchantStatus(client, merchant.merchant_id, cmd.status, cmd.reason);
        await emit(
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
        note({
          merchant_id: merchant.merchant_id,
          from: previous,
          to: cmd.status,
          staff_id: cmd.changedByStaffId,
        });
        return stored(await findMerchant(client, cmd.merchantId));
      },
      replay: async ({ client }) => stored(await findMerchant(client, cmd.merchantId)),
    });
    return this.view(claims, row);
  }

  async get(claims: CitybaseClaims, merchantId: string): Promise<MerchantView> {
    const row = readable(claims, await findMerchant(this.pool, merchantId), () =>
      notFound('merchant', 'merchant_id'),
    );
    return this.view(claims, row);
  }

  /** The merchants of one project that the caller may see (none if the project is foreign or unknown). */
  async list(claims: CitybaseClaims, projectId: string, page: Page): Promise<Paged<MerchantView>> {
    const rows = await listMerchants(this.pool, projectId, visibilityOf(claims), page);
    const { items, nextPageToken } = pagedByCreation(rows, page, MERCHANT_PAGES, (r) => r.merchant_id);
    return { items: items.map((r) => this.view(claims, r)), nextPageToken };
  }

  // ---- stored rows for the other features of this service (in their transaction) --------------------

  /** The merchant, whatever the caller's tenancy (the calling feature checks it). */
  findMerchant(db: Pool | PoolClient, merchantId: string): Promise<MerchantRow | undefined> {
    return findMerchant(db, merchantId);
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

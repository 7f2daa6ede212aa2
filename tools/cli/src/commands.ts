// The command line of `citybase`: the table of commands and their options, turned into a commander
// program that parses a command line and writes the help texts. Commander's errors become
// UsageErrors (exit code 2) with our messages, each naming the help topic to read.
import { Command as CommanderCommand, type CommanderError, Option } from 'commander';
import { ProjectKind } from '@citybase/contracts/citybase/identity/v1/tenancy';
import type { BindDoorRequest } from '@citybase/contracts/citybase/iot/v1/access';
import type { ChargingTariff, ConfigureChargerRequest } from '@citybase/contracts/citybase/iot/v1/charging';
import { CommandKind } from '@citybase/contracts/citybase/iot/v1/commands';
import { DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import type {
  CreateLotRequest,
  IssuePassRequest,
  ParkingTariff,
  SetParkingTariffRequest,
} from '@citybase/contracts/citybase/iot/v1/parking';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import {
  type Campaign,
  CampaignStatus,
  type Discount,
  FundingSource,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import { ShortfallPolicy } from '@citybase/contracts/citybase/points/v1/points';
import type { Timestamp } from '@citybase/contracts/google/protobuf/timestamp';
import { Classification, Masking } from '@citybase/contracts/citybase/data/v1/data';
import { UsageError } from './errors';

export const DEFAULT_ADMIN_NAME = 'City admin';

/** Options of the commands that call identity (--credentials or the CITYBASE_CLIENT_* variables). */
export interface AuthOptions {
  credentialsFile?: string;
}

export type Command =
  | { name: 'init'; adminName: string; save?: string }
  | { name: 'ledger check'; database?: string }
  | { name: 'feeds verify'; exportFile: string; evidenceFiles: string[]; publicKey?: string }
  | { name: 'datasets list'; auth: AuthOptions }
  | {
      name: 'datasets classify';
      auth: AuthOptions;
      requestId?: string;
      datasetId: string;
      field: string;
      classification: Classification;
    }
  | { name: 'datasets scan'; auth: AuthOptions; requestId?: string; datasetId: string }
  | {
      name: 'feeds grant';
      auth: AuthOptions;
      requestId?: string;
      operatorId: string;
      projectId: string;
      agencyId: string;
      agencyClientId: string;
      datasetId: string;
      fields: { name: string; masking: Masking }[];
      districts: string[];
      projectIds: string[];
      purpose: string;
      validUntil: Timestamp;
      quotaRowsPerDay: bigint;
    }
  | { name: 'feeds revoke'; auth: AuthOptions; requestId?: string; grantId: string; reason: string }
  | { name: 'feeds list'; auth: AuthOptions; agencyId: string }
  | { name: 'feeds export-log'; auth: AuthOptions; out: string }
  | { name: 'operator create'; auth: AuthOptions; requestId?: string; operatorName: string }
  | { name: 'operator list'; auth: AuthOptions }
  | {
      name: 'project create';
      auth: AuthOptions;
      requestId?: string;
      operatorId: string;
      projectName: string;
      kind: ProjectKind;
    }
  | { name: 'project list'; auth: AuthOptions; operatorId: string }
  | {
      name: 'client create';
      auth: AuthOptions;
      requestId?: string;
      clientName: string;
      scopes: string[];
      operatorIds: string[];
      projectIds: string[];
      save?: string;
    }
  | { name: 'client list'; auth: AuthOptions }
  | { name: 'client rotate-secret'; auth: AuthOptions; requestId?: string; clientId: string; save?: string }
  | { name: 'client revoke'; auth: AuthOptions; requestId?: string; clientId: string; reason: string }
  | { name: 'keys rotate'; auth: AuthOptions; requestId?: string }
  | {
      name: 'points programme set';
      auth: AuthOptions;
      requestId?: string;
      operatorId: string;
      pointValue: { currency: string; amountMinor: bigint };
      lotLifetimeDays: number;
      refundWindowHours: number;
      shortfallPolicy: ShortfallPolicy;
      expiryNoticeDays: number;
      tiers: { name: string; threshold: bigint; multiplierPermille: number }[];
      tierWindowDays: number;
    }
  | { name: 'points programme get'; auth: AuthOptions; operatorId: string }
  | {
      name: 'points budget set';
      auth: AuthOptions;
      requestId?: string;
      period: string;
      operatorId: string;
      projectId: string;
      allotted: bigint;
    }
  | { name: 'points budget get'; auth: AuthOptions; period: string; operatorId: string; projectId: string }
  | { name: 'points budget list'; auth: AuthOptions; period: string; operatorId: string }
  | {
      name: 'points rule set';
      auth: AuthOptions;
      requestId?: string;
      operatorId: string;
      projectId: string;
      scenario: PaymentScenario;
      pointsPerYuan: number;
      dailyCap: bigint;
    }
  | { name: 'points rule list'; auth: AuthOptions; operatorId: string; projectId: string }
  | {
      name: 'points issue';
      auth: AuthOptions;
      requestId?: string;
      operatorId: string;
      projectId: string;
      holderId: string;
      points: bigint;
      reason: string;
      expiresAt?: Timestamp;
    }
  | { name: 'points balance'; auth: AuthOptions; operatorId: string; holderId: string }
  | { name: 'campaign create'; auth: AuthOptions; requestId?: string; campaign: Campaign }
  | {
      name: 'device register';
      auth: AuthOptions;
      requestId?: string;
      operatorId: string;
      projectId: string;
      kind: DeviceKind;
      deviceName: string;
      serialNumber: string;
      profile: string;
    }
  | { name: 'device get'; auth: AuthOptions; deviceId: string }
  | { name: 'device list'; auth: AuthOptions; operatorId: string; projectId: string }
  | { name: 'device rotate'; auth: AuthOptions; requestId?: string; deviceId: string }
  | { name: 'device revoke'; auth: AuthOptions; requestId?: string; deviceId: string; reason: string }
  | {
      name: 'device command send';
      auth: AuthOptions;
      requestId?: string;
      operatorId: string;
      projectId: string;
      deviceId: string;
      kind: CommandKind;
      ttlSeconds: number;
    }
  | { name: 'device command get'; auth: AuthOptions; operatorId: string; commandId: string }
  | { name: 'parking session get'; auth: AuthOptions; operatorId: string; sessionId: string }
  | {
      name: 'parking lot create';
      auth: AuthOptions;
      requestId?: string;
      request: Omit<CreateLotRequest, 'requestId'>;
    }
  | { name: 'parking lot get'; auth: AuthOptions; operatorId: string; lotId: string }
  | {
      name: 'parking tariff set';
      auth: AuthOptions;
      requestId?: string;
      request: Omit<SetParkingTariffRequest, 'requestId'>;
    }
  | {
      name: 'parking pass issue';
      auth: AuthOptions;
      requestId?: string;
      request: Omit<IssuePassRequest, 'requestId'>;
    }
  | {
      name: 'charging charger configure';
      auth: AuthOptions;
      requestId?: string;
      request: Omit<ConfigureChargerRequest, 'requestId'>;
    }
  | { name: 'charging charger get'; auth: AuthOptions; operatorId: string; deviceId: string }
  | { name: 'door bind'; auth: AuthOptions; requestId?: string; request: Omit<BindDoorRequest, 'requestId'> }
  | { name: 'charging session get'; auth: AuthOptions; operatorId: string; sessionId: string }
  | {
      name: 'charging session pay';
      auth: AuthOptions;
      requestId?: string;
      operatorId: string;
      sessionId: string;
      points: bigint;
      couponCode: string;
      couponId: string;
      pointsHolderId: string;
    }
  | { name: 'campaign get'; auth: AuthOptions; operatorId: string; campaignId: string }
  | {
      name: 'campaign list';
      auth: AuthOptions;
      operatorId: string;
      projectId: string;
      status: CampaignStatus;
    }
  | {
      name: 'campaign activate' | 'campaign pause' | 'campaign end';
      auth: AuthOptions;
      requestId?: string;
      operatorId: string;
      campaignId: string;
    }
  | {
      name: 'campaign codes';
      auth: AuthOptions;
      requestId?: string;
      operatorId: string;
      /** Generate: the campaign and the count; or look at a batch (and export its codes). */
      generate?: { campaignId: string; count: bigint };
      batchId?: string;
      exportCodes: boolean;
    }
  | {
      name: 'checkout create';
      auth: AuthOptions;
      requestId?: string;
      operatorId: string;
      projectId: string;
      merchantId: string;
      scenario: PaymentScenario;
      total: { currency: string; amountMinor: bigint };
      userId: string;
      pointsHolderId: string;
      couponId: string;
      couponCode: string;
      points: bigint;
      itemCodes: string[];
      payerRef: string;
      description: string;
      expiresInSeconds: number;
    }
  | { name: 'checkout get'; auth: AuthOptions; checkoutId: string }
  | { name: 'checkout cancel'; auth: AuthOptions; requestId?: string; checkoutId: string }
  | {
      name: 'checkout refund';
      auth: AuthOptions;
      requestId?: string;
      checkoutId: string;
      amount: { currency: string; amountMinor: bigint };
      reason: string;
    };

export type CommandName = Command['name'];

export type Parsed = { kind: 'help'; text: string } | { kind: 'command'; command: Command };

interface OptionSpec {
  type: 'string';
  multiple?: boolean;
  required?: boolean;
  /** Placeholder of the value in the help, e.g. "<name>". */
  value?: string;
  description: string;
}

interface CommandSpec {
  name: CommandName;
  summary: string;
  /** Extra paragraph of the command's help. */
  details: string[];
  /** Calls identity with a token (adds --credentials). */
  api: boolean;
  /** Mutating RPC with an idempotency key (adds --request-id). */
  mutating: boolean;
  options: Record<string, OptionSpec>;
  /** A positional argument after the command's name (e.g. the file `feeds verify` reads). */
  argument?: { name: string; description: string };
  build(values: OptionValues): Command;
}

const CREDENTIALS_OPTION: OptionSpec = {
  type: 'string',
  value: '<file>',
  description:
    'JSON file with client_id and client_secret (as written by --save); default: env CITYBASE_CLIENT_ID and CITYBASE_CLIENT_SECRET',
};
const REQUEST_ID_OPTION: OptionSpec = {
  type: 'string',
  value: '<id>',
  description:
    'idempotency key (printable ASCII, at most 128); default: a fresh UUID. Repeat a failed call with the request_id it printed to make the retry safe',
};
const SAVE_OPTION: OptionSpec = {
  type: 'string',
  value: '<file>',
  description:
    'also write {"client_id","client_secret"} as JSON to this new file (mode 0600; an existing file is never overwritten)',
};

/** The project kinds accepted by --kind: the ProjectKind values without prefix, lower case. */
export const PROJECT_KINDS: ReadonlyMap<string, ProjectKind> = new Map(
  Object.entries(ProjectKind)
    .filter((e): e is [string, ProjectKind] => typeof e[1] === 'number' && e[1] > 0)
    .map(([key, value]) => [key.replace(/^PROJECT_KIND_/, '').toLowerCase(), value]),
);

/** "residential" (any case, with or without the PROJECT_KIND_ prefix) -> ProjectKind.PROJECT_KIND_RESIDENTIAL. */
export function parseProjectKind(text: string, topic = 'project create'): ProjectKind {
  const key = text
    .trim()
    .toLowerCase()
    .replace(/^project_kind_/, '');
  const kind = PROJECT_KINDS.get(key);
  if (kind === undefined) {
    throw new UsageError(
      `--kind must be one of ${[...PROJECT_KINDS.keys()].join(', ')} (got '${text}')`,
      topic,
    );
  }
  return kind;
}

/** Values of one command line, read through the command's option table. */
export class OptionValues {
  constructor(
    private readonly topic: string,
    private readonly values: Map<string, string[]>,
  ) {}

  /** A single-valued string option, or undefined when absent. */
  string(name: string): string | undefined {
    const v = this.values.get(name);
    if (v === undefined) return undefined;
    if (v.length > 1) throw new UsageError(`option --${name} given more than once`, this.topic);
    if (v[0].trim() === '') throw new UsageError(`--${name} must not be empty`, this.topic);
    return v[0];
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw new UsageError(`missing required option --${name}`, this.topic);
    return v;
  }

  /** A repeatable option; each value may also hold several items separated by commas or spaces. */
  list(name: string): string[] {
    const items: string[] = [];
    for (const value of this.values.get(name) ?? []) {
      const parts = value.split(/[\s,]+/).filter((p) => p !== '');
      if (parts.length === 0) throw new UsageError(`--${name} must not be empty`, this.topic);
      for (const p of parts) if (!items.includes(p)) items.push(p);
    }
    return items;
  }

  auth(): AuthOptions {
    const credentialsFile = this.string('credentials');
    return credentialsFile === undefined ? {} : { credentialsFile };
  }

  /** Every value of a repeatable option, as given (no splitting). */
  all(name: string): string[] {
    const values = this.values.get(name) ?? [];
    if (values.some((v) => v.trim() === '')) throw new UsageError(`--${name} must not be empty`, this.topic);
    return values;
  }

  /** A non-negative decimal integer option (int64); the service checks its range. */
  integer(name: string): bigint {
    const text = this.required(name).trim();
    if (!/^\d{1,19}$/.test(text) || BigInt(text) > 2n ** 63n - 1n)
      throw new UsageError(`--${name} must be a non-negative integer (got '${text}')`, this.topic);
    return BigInt(text);
  }

  /** A non-negative int32 option, or `fallback` when absent. */
  int32(name: string, fallback?: number): number {
    if (fallback !== undefined && this.string(name) === undefined) return fallback;
    const n = this.integer(name);
    if (n > 2_147_483_647n)
      throw new UsageError(`--${name} must be at most 2147483647 (got '${n}')`, this.topic);
    return Number(n);
  }

  requestId(): string | undefined {
    const id = this.string('request-id');
    if (id !== undefined && (id.length > 128 || !/^[\x21-\x7e]+$/.test(id))) {
      throw new UsageError(
        '--request-id must be 1-128 printable ASCII characters without spaces',
        this.topic,
      );
    }
    return id;
  }
}

/** The shortfall policies accepted by --shortfall-policy: the ShortfallPolicy values without prefix, lower case. */
export const SHORTFALL_POLICIES: ReadonlyMap<string, ShortfallPolicy> = new Map([
  ['debt', ShortfallPolicy.SHORTFALL_POLICY_DEBT],
  ['forgive', ShortfallPolicy.SHORTFALL_POLICY_FORGIVE],
]);

/** The scenarios accepted by --scenario: the PaymentScenario values without prefix, lower case. */
export const PAYMENT_SCENARIOS: ReadonlyMap<string, PaymentScenario> = new Map(
  Object.entries(PaymentScenario)
    .filter((e): e is [string, PaymentScenario] => typeof e[1] === 'number' && e[1] > 0)
    .map(([key, value]) => [key.replace(/^PAYMENT_SCENARIO_/, '').toLowerCase(), value]),
);

/** Who a lot or charger belongs to and who is paid: --operator, --project, --merchant. */
const PARKING_TENANCY_OPTIONS: Record<string, OptionSpec> = {
  operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
  project: { type: 'string', value: '<id>', required: true, description: 'project_id' },
  merchant: { type: 'string', value: '<id>', required: true, description: 'merchant_id paid the fees' },
};

const PARKING_TARIFF_OPTIONS: Record<string, OptionSpec> = {
  'free-minutes': {
    type: 'string',
    value: '<minutes>',
    description: 'a stay this short is free (default 0)',
  },
  'hourly-rate': { type: 'string', value: '<minor>', required: true, description: 'per started hour' },
  'daily-cap': { type: 'string', value: '<minor>', description: 'most per 24 hours (default 0: no cap)' },
  currency: { type: 'string', value: '<code>', description: 'default CNY' },
};

const SPECS: CommandSpec[] = [
  {
    name: 'init',
    summary: 'initialise the city: identity migrations, signing keys and the first admin client',
    details: [
      "Runs identity's own admin entry point (services/identity/dist/admin.js init-city) with this",
      'environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/citybase_identity),',
      'IDENTITY_MASTER_KEY and CITY_ID, the same as the identity service uses. Prints the admin',
      "client's id and secret once: the secret is never shown again. Fails (exit 1) if the city is",
      'already initialised. CITYBASE_IDENTITY_ADMIN overrides the path of admin.js.',
    ],
    api: false,
    mutating: false,
    options: {
      name: {
        type: 'string',
        value: '<name>',
        description: `name of the admin client (default "${DEFAULT_ADMIN_NAME}")`,
      },
      save: SAVE_OPTION,
    },
    build: (v) => withSave({ name: 'init', adminName: v.string('name') ?? DEFAULT_ADMIN_NAME }, v),
  },
  {
    name: 'ledger check',
    summary: "check settlement's ledger invariants against a live database (read-only)",
    details: [
      "Runs settlement's own admin entry point (services/settlement/dist/admin.js check-ledger): zero",
      'sum per transaction, balances equal to their entries, holds, never-negative accounts, escrow =',
      'paid - released - refunded per project, over one consistent snapshot. Prints the JSON report;',
      'exit 0 when all hold, 3 when one does not. Database: --database, else DATABASE_URL, else',
      'postgres://postgres@127.0.0.1:5432/citybase_settlement. CITYBASE_SETTLEMENT_ADMIN overrides',
      'the path of admin.js.',
    ],
    api: false,
    mutating: false,
    options: {
      database: { type: 'string', value: '<url>', description: "settlement's PostgreSQL URL" },
    },
    build: (v) => {
      const database = v.string('database');
      return database === undefined ? { name: 'ledger check' } : { name: 'ledger check', database };
    },
  },
  {
    name: 'datasets list',
    summary: "the data service's dataset catalog, with fields and classifications (DataService.ListDatasets)",
    details: ['Needs scope data:catalog.read.'],
    api: true,
    mutating: false,
    options: {},
    build: (v) => ({ name: 'datasets list', auth: v.auth() }),
  },
  {
    name: 'datasets classify',
    summary: "set a field's classification after review, lifting its PII block (DataService.ClassifyField)",
    details: ['Needs scope data:catalog.write and an unrestricted city administrator (city:admin).'],
    api: true,
    mutating: true,
    options: {
      dataset: {
        type: 'string',
        value: '<id>',
        required: true,
        description: 'dataset_id, e.g. settlement.tax_records',
      },
      field: { type: 'string', value: '<name>', required: true, description: 'the field' },
      classification: {
        type: 'string',
        value: '<class>',
        required: true,
        description: 'public|internal|personal|sensitive',
      },
    },
    build: (v) => ({
      name: 'datasets classify',
      auth: v.auth(),
      ...withRequestId(v),
      datasetId: v.required('dataset'),
      field: v.required('field'),
      classification: parseClassification(v.required('classification')),
    }),
  },
  {
    name: 'datasets scan',
    summary: "scan a dataset's text fields for personal data (DataService.ScanDataset)",
    details: ['Needs scope data:catalog.write and an unrestricted city administrator (city:admin).'],
    api: true,
    mutating: true,
    options: { dataset: { type: 'string', value: '<id>', required: true, description: 'dataset_id' } },
    build: (v) => ({
      name: 'datasets scan',
      auth: v.auth(),
      ...withRequestId(v),
      datasetId: v.required('dataset'),
    }),
  },
  {
    name: 'feeds grant',
    summary: 'grant an agency a dataset for a purpose, a window and a quota (DataService.IssueGrant)',
    details: [
      'Each --field is <name>:<masking>, masking one of clear, drop, hash, last4, month, amount-band,',
      "district. Without --operator the grant covers the city's rows (city administrator only).",
      'Needs scope data:grants.write.',
    ],
    api: true,
    mutating: true,
    options: {
      operator: { type: 'string', value: '<id>', description: 'the granting operator (its rows only)' },
      project: { type: 'string', value: '<id>', description: "only this project's rows (with --operator)" },
      agency: { type: 'string', value: '<id>', required: true, description: "identity's agency id" },
      'agency-client': {
        type: 'string',
        value: '<client-id>',
        required: true,
        description: "the agency's API client that pulls",
      },
      dataset: { type: 'string', value: '<id>', required: true, description: 'dataset_id' },
      field: {
        type: 'string',
        value: '<name:masking>',
        required: true,
        multiple: true,
        description: 'a granted field',
      },
      district: {
        type: 'string',
        value: '<name>',
        multiple: true,
        description: 'row filter: only these districts',
      },
      'project-filter': {
        type: 'string',
        value: '<id>',
        multiple: true,
        description: 'row filter: only these projects',
      },
      purpose: { type: 'string', value: '<text>', required: true, description: 'what the data is for' },
      'valid-until': {
        type: 'string',
        value: '<rfc3339>',
        required: true,
        description: 'end of the validity window',
      },
      quota: { type: 'string', value: '<rows>', required: true, description: 'rows per UTC day' },
    },
    build: (v) => ({
      name: 'feeds grant',
      auth: v.auth(),
      ...withRequestId(v),
      operatorId: v.string('operator') ?? '',
      projectId: v.string('project') ?? '',
      agencyId: v.required('agency'),
      agencyClientId: v.required('agency-client'),
      datasetId: v.required('dataset'),
      fields: v.all('field').map((text) => parseGrantedField(text)),
      districts: v.all('district'),
      projectIds: v.list('project-filter'),
      purpose: v.required('purpose'),
      validUntil: parseTimestampOption(v.required('valid-until'), 'valid-until', 'feeds grant'),
      quotaRowsPerDay: v.integer('quota'),
    }),
  },
  {
    name: 'feeds revoke',
    summary: 'revoke a grant at once, also for pulls under way (DataService.RevokeGrant)',
    details: ['Needs scope data:grants.write.'],
    api: true,
    mutating: true,
    options: {
      grant: { type: 'string', value: '<id>', required: true, description: 'grant_id' },
      reason: { type: 'string', value: '<text>', required: true, description: 'why' },
    },
    build: (v) => ({
      name: 'feeds revoke',
      auth: v.auth(),
      ...withRequestId(v),
      grantId: v.required('grant'),
      reason: v.required('reason'),
    }),
  },
  {
    name: 'feeds list',
    summary: 'the grants inside your tenancy, newest first (DataService.ListGrants)',
    details: ['Needs scope data:grants.read.'],
    api: true,
    mutating: false,
    options: { agency: { type: 'string', value: '<id>', description: "only this agency's grants" } },
    build: (v) => ({ name: 'feeds list', auth: v.auth(), agencyId: v.string('agency') ?? '' }),
  },
  {
    name: 'feeds export-log',
    summary:
      "write the feeds' access log to a file for `citybase feeds verify` (DataService.ExportAccessLog)",
    details: ['Needs scope data:log.read and an unrestricted city administrator (city:admin).'],
    api: true,
    mutating: false,
    options: {
      out: { type: 'string', value: '<file>', required: true, description: 'a new file for the export' },
    },
    build: (v) => ({ name: 'feeds export-log', auth: v.auth(), out: v.required('out') }),
  },
  {
    name: 'feeds verify',
    summary: 'check an access-log export of the data service and pull evidence offline',
    details: [
      'Reads an export of DataService.ExportAccessLog (JSON) and checks, with nothing of the city',
      "reached: every entry's hash against its content, the chain of prev_hash links and the",
      "sequence (a changed, removed or reordered entry fails), every checkpoint's Merkle root and",
      'Ed25519 signature, and that signed checkpoints cover all entries. Each --evidence file (a',
      "pull's evidence bundle) is checked too: manifest hash, log entry, inclusion proof, signature.",
      "--public-key pins the city's key (base64 SPKI); otherwise the export's own key is used.",
      'Prints a JSON report; exit 0 when everything verifies, 3 when something does not.',
    ],
    api: false,
    mutating: false,
    argument: { name: 'export', description: 'the access-log export (JSON file)' },
    options: {
      evidence: {
        type: 'string',
        value: '<file>',
        multiple: true,
        description: "a pull's evidence bundle (JSON file)",
      },
      'public-key': {
        type: 'string',
        value: '<base64>',
        description: "the city's access-log public key (SPKI DER, base64)",
      },
    },
    build: (v) => {
      const publicKey = v.string('public-key');
      return {
        name: 'feeds verify',
        exportFile: v.required('_export'),
        evidenceFiles: v.all('evidence'),
        ...(publicKey !== undefined && { publicKey }),
      };
    },
  },
  {
    name: 'operator create',
    summary: 'create an operator under the city (TenancyService.CreateOperator)',
    details: ['Needs scope identity:tenancy.write and an unrestricted city administrator (city:admin).'],
    api: true,
    mutating: true,
    options: { name: { type: 'string', value: '<name>', required: true, description: '1-200 characters' } },
    build: (v) => ({
      name: 'operator create',
      auth: v.auth(),
      ...withRequestId(v),
      operatorName: v.required('name'),
    }),
  },
  {
    name: 'operator list',
    summary: 'list the operators the credentials may see (TenancyService.ListOperators)',
    details: [],
    api: true,
    mutating: false,
    options: {},
    build: (v) => ({ name: 'operator list', auth: v.auth() }),
  },
  {
    name: 'project create',
    summary: 'create a project (scenario) under an operator (TenancyService.CreateProject)',
    details: ['Needs scope identity:tenancy.write and the operator inside the tenancy of the credentials.'],
    api: true,
    mutating: true,
    options: {
      operator: {
        type: 'string',
        value: '<id>',
        required: true,
        description: 'operator_id of the operator that runs it',
      },
      name: { type: 'string', value: '<name>', required: true, description: '1-200 characters' },
      kind: {
        type: 'string',
        value: '<kind>',
        required: true,
        description: [...PROJECT_KINDS.keys()].join('|'),
      },
    },
    build: (v) => ({
      name: 'project create',
      auth: v.auth(),
      ...withRequestId(v),
      operatorId: v.required('operator'),
      projectName: v.required('name'),
      kind: parseProjectKind(v.required('kind')),
    }),
  },
  {
    name: 'project list',
    summary: 'list the projects of an operator (TenancyService.ListProjects)',
    details: [],
    api: true,
    mutating: false,
    options: { operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' } },
    build: (v) => ({ name: 'project list', auth: v.auth(), operatorId: v.required('operator') }),
  },
  {
    name: 'client create',
    summary: 'create an API client and print its secret once (ClientService.CreateClient)',
    details: [
      'The scopes must all be held by the credentials, and the tenancy must lie inside theirs. No',
      '--operator and no --project: the whole city (only with scope city:admin). The secret is shown',
      'only by this call; an idempotent replay (same --request-id) shows no secret.',
    ],
    api: true,
    mutating: true,
    options: {
      name: { type: 'string', value: '<name>', required: true, description: '1-200 characters' },
      scope: {
        type: 'string',
        multiple: true,
        required: true,
        value: '<scope>',
        description: 'scope granted to the client; repeat the option, or separate scopes with commas',
      },
      operator: {
        type: 'string',
        multiple: true,
        value: '<id>',
        description: 'operator (with all its projects) the client may act in',
      },
      project: {
        type: 'string',
        multiple: true,
        value: '<id>',
        description: 'single project the client may act in',
      },
      save: SAVE_OPTION,
    },
    build: (v) => {
      const scopes = v.list('scope');
      if (scopes.length === 0) throw new UsageError('missing required option --scope', 'client create');
      return withSave(
        {
          name: 'client create',
          auth: v.auth(),
          ...withRequestId(v),
          clientName: v.required('name'),
          scopes,
          operatorIds: v.list('operator'),
          projectIds: v.list('project'),
        },
        v,
      );
    },
  },
  {
    name: 'client list',
    summary: 'list the API clients inside the tenancy of the credentials (ClientService.ListClients)',
    details: [],
    api: true,
    mutating: false,
    options: {},
    build: (v) => ({ name: 'client list', auth: v.auth() }),
  },
  {
    name: 'client rotate-secret',
    summary: "replace a client's secret and print the new one once (ClientService.RotateClientSecret)",
    details: ['The old secret stops working at once.'],
    api: true,
    mutating: true,
    options: {
      id: { type: 'string', value: '<client-id>', required: true, description: 'client_id of the client' },
      save: SAVE_OPTION,
    },
    build: (v) =>
      withSave(
        { name: 'client rotate-secret', auth: v.auth(), ...withRequestId(v), clientId: v.required('id') },
        v,
      ),
  },
  {
    name: 'client revoke',
    summary: 'revoke a client: no new tokens, its unexpired tokens refused (ClientService.RevokeClient)',
    details: [],
    api: true,
    mutating: true,
    options: {
      id: { type: 'string', value: '<client-id>', required: true, description: 'client_id of the client' },
      reason: { type: 'string', value: '<text>', required: true, description: '1-500 characters' },
    },
    build: (v) => ({
      name: 'client revoke',
      auth: v.auth(),
      ...withRequestId(v),
      clientId: v.required('id'),
      reason: v.required('reason'),
    }),
  },
  {
    name: 'keys rotate',
    summary: 'create a new token signing key and sign with it from now on (ClientService.RotateSigningKey)',
    details: ['Older keys stay published in the JWKS until every token they signed has expired.'],
    api: true,
    mutating: true,
    options: {},
    build: (v) => ({ name: 'keys rotate', auth: v.auth(), ...withRequestId(v) }),
  },
  {
    name: 'points programme set',
    summary: "create or replace an operator's points programme (PointsService.SetProgramme)",
    details: [
      'Needs scope points:configure and the operator inside the tenancy of the credentials. The',
      'service checks the ranges (docs/points.md "Programmes").',
    ],
    api: true,
    mutating: true,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      'point-value': {
        type: 'string',
        value: '<minor>',
        required: true,
        description: 'money value of one point in minor units (fen), e.g. 1',
      },
      currency: { type: 'string', value: '<code>', description: 'currency of --point-value (default CNY)' },
      'lot-lifetime-days': { type: 'string', value: '<days>', required: true, description: '1-3650' },
      'refund-window-hours': {
        type: 'string',
        value: '<hours>',
        required: true,
        description: 'how long earned points stay pending, 0-2160',
      },
      'shortfall-policy': {
        type: 'string',
        value: '<policy>',
        required: true,
        description: [...SHORTFALL_POLICIES.keys()].join('|'),
      },
      'expiry-notice-days': {
        type: 'string',
        value: '<days>',
        description: 'notice before points expire, 0-90 (default 0: none)',
      },
      tier: {
        type: 'string',
        multiple: true,
        value: '<name:threshold:permille>',
        description: 'a tier, by rising threshold (the first one 0), e.g. Gold:5000:1500',
      },
      'tier-window-days': { type: 'string', value: '<days>', required: true, description: '1-730' },
    },
    build: (v) => ({
      name: 'points programme set',
      auth: v.auth(),
      ...withRequestId(v),
      operatorId: v.required('operator'),
      pointValue: { currency: v.string('currency') ?? 'CNY', amountMinor: v.integer('point-value') },
      lotLifetimeDays: v.int32('lot-lifetime-days'),
      refundWindowHours: v.int32('refund-window-hours'),
      shortfallPolicy: parseShortfallPolicy(v.required('shortfall-policy')),
      expiryNoticeDays: v.int32('expiry-notice-days', 0),
      tiers: v.all('tier').map(parseTier),
      tierWindowDays: v.int32('tier-window-days'),
    }),
  },
  {
    name: 'points programme get',
    summary: "an operator's points programme (PointsService.GetProgramme)",
    details: [],
    api: true,
    mutating: false,
    options: { operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' } },
    build: (v) => ({ name: 'points programme get', auth: v.auth(), operatorId: v.required('operator') }),
  },
  {
    name: 'points budget set',
    summary:
      'set the points budget of the city, an operator or a project for a month (PointsService.SetBudget)',
    details: [
      'No --operator: the city; --operator: the operator; --operator and --project: the project. The',
      "city's and operators' budgets need a city administrator (city:admin); an operator sets its",
      "projects'. Raising takes from the level above; lowering never goes below what is issued and",
      'allotted further down. Needs scope points:budget.',
    ],
    api: true,
    mutating: true,
    options: {
      period: { type: 'string', value: '<YYYY-MM>', required: true, description: 'month, city time (UTC+8)' },
      operator: { type: 'string', value: '<id>', description: 'operator_id (none: the city)' },
      project: { type: 'string', value: '<id>', description: 'project_id of a project of --operator' },
      allotted: { type: 'string', value: '<points>', required: true, description: 'the new allotment, >= 0' },
    },
    build: (v) => ({
      name: 'points budget set',
      auth: v.auth(),
      ...withRequestId(v),
      ...budgetNode(v, 'points budget set'),
      allotted: v.integer('allotted'),
    }),
  },
  {
    name: 'points budget get',
    summary:
      'a points budget with the issued, redeemed and expired totals of its subtree (PointsService.GetBudget)',
    details: ['No --operator: the city; --operator: the operator; --operator and --project: the project.'],
    api: true,
    mutating: false,
    options: {
      period: { type: 'string', value: '<YYYY-MM>', required: true, description: 'month, city time (UTC+8)' },
      operator: { type: 'string', value: '<id>', description: 'operator_id (none: the city)' },
      project: { type: 'string', value: '<id>', description: 'project_id of a project of --operator' },
    },
    build: (v) => ({ name: 'points budget get', auth: v.auth(), ...budgetNode(v, 'points budget get') }),
  },
  {
    name: 'points budget list',
    summary:
      "the budgets one level down: the city's operators, or an operator's projects (PointsService.ListBudgets)",
    details: [],
    api: true,
    mutating: false,
    options: {
      period: { type: 'string', value: '<YYYY-MM>', required: true, description: 'month, city time (UTC+8)' },
      operator: {
        type: 'string',
        value: '<id>',
        description: "operator_id: its projects' budgets (none: the operators')",
      },
    },
    build: (v) => ({
      name: 'points budget list',
      auth: v.auth(),
      period: v.required('period'),
      operatorId: v.string('operator') ?? '',
    }),
  },
  {
    name: 'points rule set',
    summary:
      'create or change the earning rule of an operator or project for a payment scenario (PointsService.SetEarningRule)',
    details: [
      "One rule per (operator, project, scenario): setting it again changes it. A project's rule wins",
      "over its operator's. Needs scope points:configure and the operator's own credentials or a city",
      'administrator (docs/points.md "Earning").',
    ],
    api: true,
    mutating: true,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      project: { type: 'string', value: '<id>', description: 'project_id the rule is narrowed to' },
      scenario: {
        type: 'string',
        value: '<scenario>',
        required: true,
        description: [...PAYMENT_SCENARIOS.keys()].join('|'),
      },
      'points-per-yuan': {
        type: 'string',
        value: '<points>',
        required: true,
        description: 'points per yuan (100 minor units) paid, 0-10000 (0 turns the rule off)',
      },
      'daily-cap': {
        type: 'string',
        value: '<points>',
        description: 'at most this many points per holder per city day (default 0: no cap)',
      },
    },
    build: (v) => ({
      name: 'points rule set',
      auth: v.auth(),
      ...withRequestId(v),
      operatorId: v.required('operator'),
      projectId: v.string('project') ?? '',
      scenario: parseScenario(v.required('scenario')),
      pointsPerYuan: v.int32('points-per-yuan'),
      dailyCap: v.string('daily-cap') === undefined ? 0n : v.integer('daily-cap'),
    }),
  },
  {
    name: 'points rule list',
    summary: 'the earning rules of an operator and its projects (PointsService.ListEarningRules)',
    details: ["With --project: the operator's rules and that project's."],
    api: true,
    mutating: false,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      project: { type: 'string', value: '<id>', description: 'project_id (none: all its projects)' },
    },
    build: (v) => ({
      name: 'points rule list',
      auth: v.auth(),
      operatorId: v.required('operator'),
      projectId: v.string('project') ?? '',
    }),
  },
  {
    name: 'points issue',
    summary: "issue points to a holder, charged to the issuer's budget (PointsService.IssuePoints)",
    details: [
      'The points are charged to the budget of --project (or of the operator without --project) for',
      'the current month and become one available lot. Needs scope points:issue.',
    ],
    api: true,
    mutating: true,
    options: {
      operator: {
        type: 'string',
        value: '<id>',
        required: true,
        description: "operator_id (the programme's)",
      },
      project: { type: 'string', value: '<id>', description: 'project_id whose budget pays for the points' },
      holder: { type: 'string', value: '<id>', required: true, description: 'user or household id' },
      points: { type: 'string', value: '<points>', required: true, description: 'how many, > 0' },
      reason: {
        type: 'string',
        value: '<code>',
        required: true,
        description: 'why, 1-40 of A-Z, 0-9 and _, e.g. GOODWILL',
      },
      'expires-at': {
        type: 'string',
        value: '<time>',
        description: "RFC 3339 time the lot expires (default: the programme's lot lifetime)",
      },
    },
    build: (v) => {
      const expiresAt = v.string('expires-at');
      return {
        name: 'points issue',
        auth: v.auth(),
        ...withRequestId(v),
        operatorId: v.required('operator'),
        projectId: v.string('project') ?? '',
        holderId: v.required('holder'),
        points: v.integer('points'),
        reason: v.required('reason'),
        ...(expiresAt === undefined ? {} : { expiresAt: parseTime(expiresAt, 'expires-at', 'points issue') }),
      };
    },
  },
  {
    name: 'points balance',
    summary: "a holder's points: available, reserved, pending, debt and tier (PointsService.GetBalance)",
    details: ['An unknown holder answers zeros.'],
    api: true,
    mutating: false,
    options: {
      operator: {
        type: 'string',
        value: '<id>',
        required: true,
        description: "operator_id (the programme's)",
      },
      holder: { type: 'string', value: '<id>', required: true, description: 'user or household id' },
    },
    build: (v) => ({
      name: 'points balance',
      auth: v.auth(),
      operatorId: v.required('operator'),
      holderId: v.required('holder'),
    }),
  },
  {
    name: 'campaign create',
    summary: 'create a marketing campaign in DRAFT (MarketingService.CreateCampaign)',
    details: [
      'One discount: --amount-off, --percent-off (with --cap), --threshold <spend:save> or',
      '--free-item <item:value>; money in minor units (fen) of --currency. Needs scope',
      'marketing:configure and the operator inside the tenancy of the credentials. The service',
      'checks the ranges (docs/marketing.md "Campaigns"); `citybase campaign activate` opens it.',
    ],
    api: true,
    mutating: true,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      project: { type: 'string', value: '<id>', description: 'project_id the campaign is narrowed to' },
      merchant: {
        type: 'string',
        value: '<id>',
        description: 'merchant_id (required with --funding merchant)',
      },
      name: { type: 'string', value: '<text>', required: true, description: '1-80 characters' },
      currency: {
        type: 'string',
        value: '<code>',
        description: 'currency of the money options (default CNY)',
      },
      'amount-off': { type: 'string', value: '<minor>', description: 'a fixed amount off' },
      'percent-off': { type: 'string', value: '<basis points>', description: '1-10000 (1000 = 10%)' },
      cap: { type: 'string', value: '<minor>', description: 'the most --percent-off takes off' },
      threshold: { type: 'string', value: '<spend:save>', description: 'spend X save Y, e.g. 10000:1500' },
      'free-item': {
        type: 'string',
        value: '<item:value>',
        description: 'one item free, worth at most value',
      },
      funding: { type: 'string', value: '<who>', required: true, description: 'platform|operator|merchant' },
      'claim-from': { type: 'string', value: '<time>', description: 'ISO 8601 (default now)' },
      'claim-until': { type: 'string', value: '<time>', required: true, description: 'ISO 8601' },
      'valid-days': {
        type: 'string',
        value: '<days>',
        required: true,
        description: 'coupon validity, 1-365',
      },
      'use-until': { type: 'string', value: '<time>', description: 'no coupon is valid later (ISO 8601)' },
      'max-coupons': { type: 'string', value: '<n>', required: true, description: 'count budget, > 0' },
      'max-spend': { type: 'string', value: '<minor>', description: 'money budget (none: no money budget)' },
      'per-user': { type: 'string', value: '<n>', description: 'coupons per user (default 0: no limit)' },
      'per-household': { type: 'string', value: '<n>', description: 'coupons per household (default 0)' },
      'per-day': { type: 'string', value: '<n>', description: 'coupons per user per city day (default 0)' },
      'flash-sale': { type: 'string', value: '<yes|no>', description: 'gate claims in Redis (default no)' },
      'generic-code': { type: 'string', value: '<code>', description: '4-32 of A-Z and 0-9' },
      'target-project': {
        type: 'string',
        multiple: true,
        value: '<ids>',
        description: 'where it can be used',
      },
      'target-merchant': {
        type: 'string',
        multiple: true,
        value: '<ids>',
        description: 'where it can be used',
      },
      'target-tier': {
        type: 'string',
        multiple: true,
        value: '<names>',
        description: 'points tiers that can claim',
      },
      exclusive: { type: 'string', value: '<yes|no>', description: 'applied alone (default no)' },
      group: { type: 'string', value: '<name>', description: 'stacking group, 1-40 characters' },
      priority: {
        type: 'string',
        value: '<n>',
        description: 'order of application, lower first (default 0)',
      },
    },
    build: (v) => ({
      name: 'campaign create',
      auth: v.auth(),
      ...withRequestId(v),
      campaign: campaignOf(v),
    }),
  },
  {
    name: 'campaign get',
    summary: 'a campaign with its claimed and redeemed totals (MarketingService.GetCampaign)',
    details: [],
    api: true,
    mutating: false,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      id: { type: 'string', value: '<campaign-id>', required: true, description: 'campaign_id' },
    },
    build: (v) => ({
      name: 'campaign get',
      auth: v.auth(),
      operatorId: v.required('operator'),
      campaignId: v.required('id'),
    }),
  },
  {
    name: 'campaign list',
    summary: "an operator's campaigns, newest first (MarketingService.ListCampaigns)",
    details: [],
    api: true,
    mutating: false,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      project: { type: 'string', value: '<id>', description: "only the project's campaigns" },
      status: {
        type: 'string',
        value: '<status>',
        description: 'draft|active|paused|ended (default every one)',
      },
    },
    build: (v) => ({
      name: 'campaign list',
      auth: v.auth(),
      operatorId: v.required('operator'),
      projectId: v.string('project') ?? '',
      status: parseCampaignStatus(v.string('status')),
    }),
  },
  ...(['activate', 'pause', 'end'] as const).map((verb): CommandSpec => ({
    name: `campaign ${verb}`,
    summary: `${verb === 'activate' ? 'open (or resume) claims of' : verb === 'pause' ? 'pause claims of' : 'end for good'} a campaign (MarketingService.UpdateCampaign)`,
    details: ['DRAFT > ACTIVE <> PAUSED > ENDED; claimed coupons stay usable until they expire.'],
    api: true,
    mutating: true,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      id: { type: 'string', value: '<campaign-id>', required: true, description: 'campaign_id' },
    },
    build: (v) => ({
      name: `campaign ${verb}`,
      auth: v.auth(),
      ...withRequestId(v),
      operatorId: v.required('operator'),
      campaignId: v.required('id'),
    }),
  })),
  {
    name: 'campaign codes',
    summary:
      'generate unique codes for a campaign, or follow a batch and export its codes (GenerateCodes, GetCodeBatch, ExportCodes)',
    details: [
      '--id and --count start a batch (at most 100,000, never beyond the count budget) and print it;',
      '--batch prints its progress, and with --export yes every code once it is done.',
    ],
    api: true,
    mutating: true,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      id: { type: 'string', value: '<campaign-id>', description: 'campaign_id (with --count)' },
      count: { type: 'string', value: '<n>', description: '1-100000' },
      batch: { type: 'string', value: '<batch-id>', description: 'a batch started before' },
      export: { type: 'string', value: '<yes|no>', description: 'with --batch: also print its codes' },
    },
    build: (v) => {
      const batchId = v.string('batch');
      const operatorId = v.required('operator');
      const exportCodes = yesNo(v, 'export', 'campaign codes');
      if (batchId !== undefined) {
        if (v.string('id') !== undefined || v.string('count') !== undefined)
          throw new UsageError('give either --batch, or --id and --count', 'campaign codes');
        return { name: 'campaign codes', auth: v.auth(), operatorId, batchId, exportCodes };
      }
      if (exportCodes) throw new UsageError('--export needs --batch', 'campaign codes');
      return {
        name: 'campaign codes',
        auth: v.auth(),
        ...withRequestId(v),
        operatorId,
        generate: { campaignId: v.required('id'), count: v.integer('count') },
        exportCodes,
      };
    },
  },
  // ---- checkouts (docs/payment-checkout.md): what a scenario app calls to sell a basket ----
  {
    name: 'checkout create',
    summary: 'sell a basket paid with money, points and a coupon in one saga (PaymentService.CreateCheckout)',
    details: [
      'Claims --coupon-code (or uses --coupon), reserves it and --points of the holder, and opens a',
      "payment for what is left at the project's routed channel: the answer carries its pay_url.",
      'Nothing left to pay completes at once. Money in minor units (fen). Needs scope payment:write.',
      'Retry an unknown outcome with the same --request-id: the same checkout is answered.',
    ],
    api: true,
    mutating: true,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      project: { type: 'string', value: '<id>', required: true, description: 'project_id' },
      merchant: { type: 'string', value: '<id>', required: true, description: 'merchant_id paid' },
      scenario: {
        type: 'string',
        value: '<scenario>',
        required: true,
        description: [...PAYMENT_SCENARIOS.keys()].join('|'),
      },
      total: {
        type: 'string',
        value: '<minor>',
        required: true,
        description: "the basket's full price, > 0",
      },
      currency: { type: 'string', value: '<code>', description: 'default CNY' },
      user: { type: 'string', value: '<id>', required: true, description: 'the resident (coupon owner)' },
      holder: { type: 'string', value: '<id>', description: 'points holder (default --user)' },
      coupon: { type: 'string', value: '<coupon-id>', description: 'a coupon the user holds' },
      'coupon-code': { type: 'string', value: '<code>', description: 'a code to claim and use' },
      points: { type: 'string', value: '<points>', description: 'points to use (default 0)' },
      item: {
        type: 'string',
        multiple: true,
        value: '<code>',
        description: 'item code of the basket (repeatable)',
      },
      payer: { type: 'string', value: '<ref>', description: 'payer reference (default --user)' },
      description: { type: 'string', value: '<text>', description: 'what is sold' },
      'expires-in': { type: 'string', value: '<seconds>', description: '60-3000; default 900' },
    },
    build: (v) => {
      const userId = v.required('user');
      return {
        name: 'checkout create',
        auth: v.auth(),
        ...withRequestId(v),
        operatorId: v.required('operator'),
        projectId: v.required('project'),
        merchantId: v.required('merchant'),
        scenario: parseScenario(v.required('scenario')),
        total: { currency: v.string('currency') ?? 'CNY', amountMinor: v.integer('total') },
        userId,
        pointsHolderId: v.string('holder') ?? '',
        couponId: v.string('coupon') ?? '',
        couponCode: v.string('coupon-code') ?? '',
        points: v.string('points') === undefined ? 0n : v.integer('points'),
        itemCodes: v.list('item'),
        payerRef: v.string('payer') ?? userId,
        description: v.string('description') ?? '',
        expiresInSeconds: v.int32('expires-in', 0),
      };
    },
  },
  {
    name: 'checkout get',
    summary: 'a checkout: status, parts (discount, points, money), refunds (PaymentService.GetCheckout)',
    details: ['Needs scope payment:read.'],
    api: true,
    mutating: false,
    options: { id: { type: 'string', value: '<checkout-id>', required: true, description: 'checkout_id' } },
    build: (v) => ({ name: 'checkout get', auth: v.auth(), checkoutId: v.required('id') }),
  },
  {
    name: 'checkout cancel',
    summary:
      'cancel a checkout not paid yet: the coupon and the points are released (PaymentService.CancelCheckout)',
    details: [
      'An open payment is closed at the channel first; the checkout is released once it is. A payer',
      'who paid first wins: the checkout completes. Needs scope payment:write.',
    ],
    api: true,
    mutating: true,
    options: { id: { type: 'string', value: '<checkout-id>', required: true, description: 'checkout_id' } },
    build: (v) => ({
      name: 'checkout cancel',
      auth: v.auth(),
      ...withRequestId(v),
      checkoutId: v.required('id'),
    }),
  },
  {
    name: 'checkout refund',
    summary: 'refund part or all of a completed checkout (PaymentService.RefundCheckout)',
    details: [
      'Money, points and coupon are given back in proportion (docs/payment-checkout.md "Refund rule");',
      'the refund reaching the full price restores the coupon. Needs scope payment:refund.',
    ],
    api: true,
    mutating: true,
    options: {
      id: { type: 'string', value: '<checkout-id>', required: true, description: 'checkout_id' },
      amount: {
        type: 'string',
        value: '<minor>',
        required: true,
        description: 'part of the full price, > 0',
      },
      currency: { type: 'string', value: '<code>', description: 'default CNY' },
      reason: { type: 'string', value: '<text>', required: true, description: '1-200 characters' },
    },
    build: (v) => ({
      name: 'checkout refund',
      auth: v.auth(),
      ...withRequestId(v),
      checkoutId: v.required('id'),
      amount: { currency: v.string('currency') ?? 'CNY', amountMinor: v.integer('amount') },
      reason: v.required('reason'),
    }),
  },
  {
    name: 'device register',
    summary: 'register a device in a project and make its broker credentials (IotService.RegisterDevice)',
    details: [
      'Prints the device and its MQTT credentials; the password is shown this once (a repeat of',
      'the request id answers the device without it). Kinds: door_controller, parking_gate,',
      'parking_camera, ev_charger, smoke_sensor, temperature_sensor, water_sensor, air_sensor, meter.',
    ],
    api: true,
    mutating: true,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      project: { type: 'string', value: '<id>', required: true, description: 'project_id' },
      kind: { type: 'string', value: '<kind>', required: true, description: 'what the device is' },
      name: { type: 'string', value: '<name>', required: true, description: 'a name people recognise' },
      serial: {
        type: 'string',
        value: '<serial>',
        required: true,
        description: 'serial number, unique per project',
      },
      profile: { type: 'string', value: '<profile>', description: "profile (default: the kind's)" },
    },
    build: (v) => ({
      name: 'device register',
      auth: v.auth(),
      ...withRequestId(v),
      operatorId: v.required('operator'),
      projectId: v.required('project'),
      kind: parseDeviceKind(v.required('kind')),
      deviceName: v.required('name'),
      serialNumber: v.required('serial'),
      profile: v.string('profile') ?? '',
    }),
  },
  {
    name: 'device get',
    summary: 'a device with its presence (IotService.GetDevice)',
    details: [],
    api: true,
    mutating: false,
    options: { id: { type: 'string', value: '<device-id>', required: true, description: 'device_id' } },
    build: (v) => ({ name: 'device get', auth: v.auth(), deviceId: v.required('id') }),
  },
  {
    name: 'device list',
    summary: "an operator's (or project's) devices, newest first (IotService.ListDevices)",
    details: [],
    api: true,
    mutating: false,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      project: { type: 'string', value: '<id>', description: "only the project's devices" },
    },
    build: (v) => ({
      name: 'device list',
      auth: v.auth(),
      operatorId: v.required('operator'),
      projectId: v.string('project') ?? '',
    }),
  },
  {
    name: 'device rotate',
    summary:
      'give a device a new MQTT password; the old one stops working (IotService.RotateDeviceCredentials)',
    details: ['The new password is printed this once; a connected device is disconnected.'],
    api: true,
    mutating: true,
    options: { id: { type: 'string', value: '<device-id>', required: true, description: 'device_id' } },
    build: (v) => ({
      name: 'device rotate',
      auth: v.auth(),
      ...withRequestId(v),
      deviceId: v.required('id'),
    }),
  },
  {
    name: 'device revoke',
    summary: 'revoke a device for good: disconnected, its next connect refused (IotService.RevokeDevice)',
    details: [],
    api: true,
    mutating: true,
    options: {
      id: { type: 'string', value: '<device-id>', required: true, description: 'device_id' },
      reason: { type: 'string', value: '<text>', description: 'why (kept with the device)' },
    },
    build: (v) => ({
      name: 'device revoke',
      auth: v.auth(),
      ...withRequestId(v),
      deviceId: v.required('id'),
      reason: v.string('reason') ?? '',
    }),
  },
  {
    name: 'device command send',
    summary: 'send a device a command, kept until done or past its deadline (CommandService.SendCommand)',
    details: [
      'Kinds: door_open (TTL <= 10 s), gate_open, gate_close (<= 30 s), charger_start, charger_stop',
      '(<= 60 s), reboot (<= 120 s). The device refuses it after the deadline; a repeat of the',
      "request id answers the same command. Follow it with 'citybase device command get'.",
    ],
    api: true,
    mutating: true,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      project: { type: 'string', value: '<id>', required: true, description: "the device's project_id" },
      device: { type: 'string', value: '<device-id>', required: true, description: 'device_id' },
      kind: { type: 'string', value: '<kind>', required: true, description: 'what to do' },
      ttl: { type: 'string', value: '<seconds>', description: "time to live (default: the kind's)" },
    },
    build: (v) => ({
      name: 'device command send',
      auth: v.auth(),
      ...withRequestId(v),
      operatorId: v.required('operator'),
      projectId: v.required('project'),
      deviceId: v.required('device'),
      kind: parseCommandKind(v.required('kind')),
      ttlSeconds: v.int32('ttl', 0),
    }),
  },
  {
    name: 'device command get',
    summary:
      'a device command and where it is: queued, sent, delivered, succeeded... (CommandService.GetCommand)',
    details: [],
    api: true,
    mutating: false,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      id: { type: 'string', value: '<command-id>', required: true, description: 'command_id' },
    },
    build: (v) => ({
      name: 'device command get',
      auth: v.auth(),
      operatorId: v.required('operator'),
      commandId: v.required('id'),
    }),
  },
  {
    name: 'parking session get',
    summary: 'a parking stay: plate, fee, payment and gate command (ParkingService.GetParkingSession)',
    details: [],
    api: true,
    mutating: false,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      id: { type: 'string', value: '<session-id>', required: true, description: 'session_id' },
    },
    build: (v) => ({
      name: 'parking session get',
      auth: v.auth(),
      operatorId: v.required('operator'),
      sessionId: v.required('id'),
    }),
  },
  {
    name: 'parking lot create',
    summary: 'create a parking lot with its cameras, exit gate and tariff (ParkingService.CreateLot)',
    details: [
      'The entry and exit plate cameras and the exit gate are devices of the project (citybase device',
      'register). Money in minor units (fen) of --currency. The merchant is who the fees are paid to.',
      'Needs scope iot:configure; a repeat of the request id answers the same lot.',
    ],
    api: true,
    mutating: true,
    options: {
      ...PARKING_TENANCY_OPTIONS,
      name: { type: 'string', value: '<text>', required: true, description: "the lot's name" },
      capacity: { type: 'string', value: '<n>', required: true, description: 'parking spaces' },
      'entry-camera': {
        type: 'string',
        value: '<device-id>',
        required: true,
        description: 'entry plate camera',
      },
      'exit-camera': {
        type: 'string',
        value: '<device-id>',
        required: true,
        description: 'exit plate camera',
      },
      'exit-gate': { type: 'string', value: '<device-id>', required: true, description: 'exit gate' },
      ...PARKING_TARIFF_OPTIONS,
    },
    build: (v) => ({
      name: 'parking lot create',
      auth: v.auth(),
      ...withRequestId(v),
      request: {
        tenancy: parkingTenancy(v),
        name: v.required('name'),
        capacity: v.int32('capacity'),
        entryCameraId: v.required('entry-camera'),
        exitCameraId: v.required('exit-camera'),
        exitGateId: v.required('exit-gate'),
        tariff: parkingTariffOf(v),
      },
    }),
  },
  {
    name: 'parking lot get',
    summary: 'a parking lot: devices, tariff and vehicles inside (ParkingService.GetLot)',
    details: [],
    api: true,
    mutating: false,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      id: { type: 'string', value: '<lot-id>', required: true, description: 'lot_id' },
    },
    build: (v) => ({
      name: 'parking lot get',
      auth: v.auth(),
      operatorId: v.required('operator'),
      lotId: v.required('id'),
    }),
  },
  {
    name: 'parking tariff set',
    summary: "replace a lot's tariff; stays that exit later pay it (ParkingService.SetParkingTariff)",
    details: ['Money in minor units (fen) of --currency. Needs scope iot:configure.'],
    api: true,
    mutating: true,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      lot: { type: 'string', value: '<lot-id>', required: true, description: 'lot_id' },
      ...PARKING_TARIFF_OPTIONS,
    },
    build: (v) => ({
      name: 'parking tariff set',
      auth: v.auth(),
      ...withRequestId(v),
      request: {
        tenancy: { operatorId: v.required('operator'), projectId: '', merchantId: '' },
        lotId: v.required('lot'),
        tariff: parkingTariffOf(v),
      },
    }),
  },
  {
    name: 'parking pass issue',
    summary:
      "give a resident's plate a monthly pass: its stays in the lot are free (ParkingService.IssuePass)",
    details: [
      'Times in RFC 3339 with offset. Needs scope iot:configure; a repeat of the request id answers the same.',
    ],
    api: true,
    mutating: true,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      project: { type: 'string', value: '<id>', required: true, description: "the lot's project_id" },
      lot: { type: 'string', value: '<lot-id>', required: true, description: 'lot_id' },
      plate: { type: 'string', value: '<plate>', required: true, description: 'licence plate' },
      resident: { type: 'string', value: '<id>', required: true, description: 'the resident it is for' },
      from: { type: 'string', value: '<time>', required: true, description: 'valid from' },
      until: { type: 'string', value: '<time>', required: true, description: 'valid until' },
    },
    build: (v) => ({
      name: 'parking pass issue',
      auth: v.auth(),
      ...withRequestId(v),
      request: {
        tenancy: { operatorId: v.required('operator'), projectId: v.required('project'), merchantId: '' },
        lotId: v.required('lot'),
        plate: v.required('plate'),
        residentId: v.required('resident'),
        validFrom: parseTime(v.required('from'), 'from', 'parking pass issue'),
        validUntil: parseTime(v.required('until'), 'until', 'parking pass issue'),
      },
    }),
  },
  {
    name: 'charging charger configure',
    summary: "set an EV charger's tariff and who is paid (ChargingService.ConfigureCharger)",
    details: [
      'Energy price by time of use: one --band <from-minute:price-per-kWh> per band, the first from',
      'minute 0 of the day (e.g. --band 0:80 --band 480:120 --band 1320:80), plus --service-fee per',
      'kWh; money in minor units (fen) of --currency. The charger is an ev_charger device of the',
      'project. Needs scope iot:configure; a repeat of the request id answers the same.',
    ],
    api: true,
    mutating: true,
    options: {
      ...PARKING_TENANCY_OPTIONS,
      device: {
        type: 'string',
        value: '<device-id>',
        required: true,
        description: "the charger's device_id",
      },
      band: {
        type: 'string',
        value: '<from-minute:price>',
        required: true,
        multiple: true,
        description: 'a time-of-use band',
      },
      'service-fee': { type: 'string', value: '<minor>', required: true, description: 'service fee per kWh' },
      currency: { type: 'string', value: '<code>', description: 'default CNY' },
    },
    build: (v) => ({
      name: 'charging charger configure',
      auth: v.auth(),
      ...withRequestId(v),
      request: { tenancy: parkingTenancy(v), deviceId: v.required('device'), tariff: chargingTariffOf(v) },
    }),
  },
  {
    name: 'charging charger get',
    summary: "an EV charger's tariff and last register (ChargingService.GetCharger)",
    details: [],
    api: true,
    mutating: false,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      device: {
        type: 'string',
        value: '<device-id>',
        required: true,
        description: "the charger's device_id",
      },
    },
    build: (v) => ({
      name: 'charging charger get',
      auth: v.auth(),
      operatorId: v.required('operator'),
      deviceId: v.required('device'),
    }),
  },
  {
    name: 'door bind',
    summary: 'bind a door controller to the building or unit it opens (AccessService.BindDoor)',
    details: [
      "Exactly one of --building and --unit (identity's ids). Residents the property granted access",
      'to that building or unit can then open it from their app. Needs scope iot:configure.',
    ],
    api: true,
    mutating: true,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      project: { type: 'string', value: '<id>', required: true, description: "the door's project_id" },
      device: {
        type: 'string',
        value: '<device-id>',
        required: true,
        description: 'a door_controller device',
      },
      building: { type: 'string', value: '<id>', description: 'building_id' },
      unit: { type: 'string', value: '<id>', description: 'unit_id' },
    },
    build: (v) => {
      const buildingId = v.string('building') ?? '';
      const unitId = v.string('unit') ?? '';
      if ((buildingId === '') === (unitId === ''))
        throw new UsageError('give exactly one of --building and --unit', 'door bind');
      return {
        name: 'door bind',
        auth: v.auth(),
        ...withRequestId(v),
        request: {
          tenancy: { operatorId: v.required('operator'), projectId: v.required('project'), merchantId: '' },
          deviceId: v.required('device'),
          buildingId,
          unitId,
        },
      };
    },
  },
  {
    name: 'charging session get',
    summary:
      'an EV charging session: registers, energy, bill and payment (ChargingService.GetChargingSession)',
    details: [],
    api: true,
    mutating: false,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      id: { type: 'string', value: '<session-id>', required: true, description: 'session_id' },
    },
    build: (v) => ({
      name: 'charging session get',
      auth: v.auth(),
      operatorId: v.required('operator'),
      sessionId: v.required('id'),
    }),
  },
  {
    name: 'charging session pay',
    summary:
      "pay an EV charging session with points and/or a coupon code through payment's checkout (ChargingService.PayChargingSession)",
    details: [
      'While the session runs, the stop bills through the checkout; once stopped, only when no payment',
      'of it is open (its plain payment failed or expired, or an earlier checkout was released).',
      'Prints the session and the pay URL of the money part (none when points and coupon cover it).',
      'Needs scope iot:charging.pay; a repeat of the request id answers the same.',
    ],
    api: true,
    mutating: true,
    options: {
      operator: { type: 'string', value: '<id>', required: true, description: 'operator_id' },
      id: { type: 'string', value: '<session-id>', required: true, description: 'session_id' },
      points: { type: 'string', value: '<points>', description: 'points to use (default 0)' },
      'coupon-code': { type: 'string', value: '<code>', description: 'a coupon code to claim and use' },
      coupon: { type: 'string', value: '<coupon-id>', description: 'a coupon the user holds' },
      holder: { type: 'string', value: '<id>', description: "points holder (default the session's user)" },
    },
    build: (v) => ({
      name: 'charging session pay',
      auth: v.auth(),
      ...withRequestId(v),
      operatorId: v.required('operator'),
      sessionId: v.required('id'),
      points: v.string('points') === undefined ? 0n : v.integer('points'),
      couponCode: v.string('coupon-code') ?? '',
      couponId: v.string('coupon') ?? '',
      pointsHolderId: v.string('holder') ?? '',
    }),
  },
];

function parkingTenancy(v: OptionValues): { operatorId: string; projectId: string; merchantId: string } {
  return {
    operatorId: v.required('operator'),
    projectId: v.required('project'),
    merchantId: v.required('merchant'),
  };
}

function parkingTariffOf(v: OptionValues): ParkingTariff {
  const currency = v.string('currency') ?? 'CNY';
  return {
    freeMinutes: v.int32('free-minutes', 0),
    hourlyRate: { currency, amountMinor: v.integer('hourly-rate') },
    dailyCap: { currency, amountMinor: v.string('daily-cap') === undefined ? 0n : v.integer('daily-cap') },
  };
}

function chargingTariffOf(v: OptionValues): ChargingTariff {
  const currency = v.string('currency') ?? 'CNY';
  const bands = v.all('band').map((text) => {
    const m = /^(\d{1,4}):(\d{1,18})$/.exec(text.trim());
    if (!m)
      throw new UsageError(
        `--band must be <from-minute:price-per-kWh in minor units>, e.g. 480:120 (got '${text}')`,
        'charging charger configure',
      );
    return { fromMinute: Number(m[1]), pricePerKwh: { currency, amountMinor: BigInt(m[2]!) } };
  });
  return { bands, serviceFeePerKwh: { currency, amountMinor: v.integer('service-fee') } };
}

/** The node of a budget command: --period, and --operator / --project (a project needs its operator). */
function budgetNode(
  v: OptionValues,
  topic: string,
): { period: string; operatorId: string; projectId: string } {
  const operatorId = v.string('operator') ?? '';
  const projectId = v.string('project') ?? '';
  if (projectId !== '' && operatorId === '') throw new UsageError('--project needs --operator', topic);
  return { period: v.required('period'), operatorId, projectId };
}

function parseScenario(text: string): PaymentScenario {
  const key = text
    .trim()
    .toLowerCase()
    .replace(/^payment_scenario_/, '')
    .replace(/-/g, '_');
  const scenario = PAYMENT_SCENARIOS.get(key);
  if (scenario === undefined)
    throw new UsageError(
      `--scenario must be one of ${[...PAYMENT_SCENARIOS.keys()].join(', ')} (got '${text}')`,
      'points rule set',
    );
  return scenario;
}

/** An RFC 3339 time with its offset ("2027-06-30T16:00:00Z") as a Timestamp (milliseconds kept). */
export function parseTime(text: string, option: string, topic: string): Timestamp {
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i.test(text) || Number.isNaN(ms))
    throw new UsageError(
      `--${option} must be an RFC 3339 time with offset, e.g. 2027-06-30T16:00:00Z (got '${text}')`,
      topic,
    );
  const seconds = Math.floor(ms / 1000);
  return { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** The campaign statuses accepted by --status. */
export const CAMPAIGN_STATUSES: ReadonlyMap<string, CampaignStatus> = new Map([
  ['draft', CampaignStatus.CAMPAIGN_STATUS_DRAFT],
  ['active', CampaignStatus.CAMPAIGN_STATUS_ACTIVE],
  ['paused', CampaignStatus.CAMPAIGN_STATUS_PAUSED],
  ['ended', CampaignStatus.CAMPAIGN_STATUS_ENDED],
]);

const FUNDINGS: ReadonlyMap<string, FundingSource> = new Map([
  ['platform', FundingSource.FUNDING_SOURCE_PLATFORM],
  ['operator', FundingSource.FUNDING_SOURCE_OPERATOR],
  ['merchant', FundingSource.FUNDING_SOURCE_MERCHANT],
]);

function parseCommandKind(text: string): CommandKind {
  const key = `COMMAND_KIND_${text.trim().toUpperCase().replace(/-/g, '_')}`;
  const kind = (CommandKind as unknown as Record<string, number>)[key];
  if (kind === undefined || kind <= 0)
    throw new UsageError(
      `--kind must be a command kind such as gate_open or door_open (got '${text}')`,
      'device command send',
    );
  return kind as CommandKind;
}

function parseDeviceKind(text: string): DeviceKind {
  const key = `DEVICE_KIND_${text.trim().toUpperCase().replace(/-/g, '_')}`;
  const kind = (DeviceKind as unknown as Record<string, number>)[key];
  if (kind === undefined || kind <= 0)
    throw new UsageError(
      `--kind must be a device kind such as smoke_sensor or meter (got '${text}')`,
      'device register',
    );
  return kind as DeviceKind;
}

function parseCampaignStatus(text: string | undefined): CampaignStatus {
  if (text === undefined) return CampaignStatus.CAMPAIGN_STATUS_UNSPECIFIED;
  const s = CAMPAIGN_STATUSES.get(text.trim().toLowerCase());
  if (s === undefined)
    throw new UsageError(
      `--status must be one of ${[...CAMPAIGN_STATUSES.keys()].join(', ')} (got '${text}')`,
      'campaign list',
    );
  return s;
}

function yesNo(v: OptionValues, name: string, topic: string): boolean {
  const text = v.string(name);
  if (text === undefined) return false;
  const t = text.trim().toLowerCase();
  if (t !== 'yes' && t !== 'no') throw new UsageError(`--${name} must be yes or no (got '${text}')`, topic);
  return t === 'yes';
}

function timeOption(v: OptionValues, name: string): { seconds: bigint; nanos: number } | undefined {
  const text = v.string(name);
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    throw new UsageError(`--${name} must be an ISO 8601 time (got '${text}')`, 'campaign create');
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/** "<a>:<b>" with a text or number first part and a number second part. */
function pairOption(v: OptionValues, name: string, usage: string): [string, bigint] | undefined {
  const text = v.string(name);
  if (text === undefined) return undefined;
  const at = text.lastIndexOf(':');
  const second = text.slice(at + 1);
  if (at <= 0 || !/^\d{1,18}$/.test(second))
    throw new UsageError(`--${name} must be ${usage} (got '${text}')`, 'campaign create');
  return [text.slice(0, at), BigInt(second)];
}

/** The discount of `campaign create`: exactly one of the four kinds. */
function discountOf(v: OptionValues, currency: string): Discount {
  const money = (amountMinor: bigint) => ({ currency, amountMinor });
  const kinds: Discount[] = [];
  if (v.string('amount-off') !== undefined)
    kinds.push({ kind: { $case: 'amountOff', value: money(v.integer('amount-off')) } });
  if (v.string('percent-off') !== undefined)
    kinds.push({
      kind: {
        $case: 'percentOff',
        value: {
          basisPoints: v.int32('percent-off'),
          cap: v.string('cap') === undefined ? undefined : money(v.integer('cap')),
        },
      },
    });
  const threshold = pairOption(v, 'threshold', '<spend:save> in minor units');
  if (threshold) {
    if (!/^\d{1,18}$/.test(threshold[0]))
      throw new UsageError('--threshold must be <spend:save> in minor units', 'campaign create');
    kinds.push({
      kind: { $case: 'threshold', value: { spend: money(BigInt(threshold[0])), save: money(threshold[1]) } },
    });
  }
  const item = pairOption(v, 'free-item', '<item code:value in minor units>');
  if (item) kinds.push({ kind: { $case: 'freeItem', value: { itemCode: item[0], value: money(item[1]) } } });
  const [only, ...more] = kinds;
  if (only === undefined || more.length > 0)
    throw new UsageError(
      'give exactly one of --amount-off, --percent-off, --threshold, --free-item',
      'campaign create',
    );
  return only;
}

function campaignOf(v: OptionValues): Campaign {
  const currency = v.string('currency') ?? 'CNY';
  const fundingText = v.required('funding');
  const funding = FUNDINGS.get(fundingText.trim().toLowerCase());
  if (funding === undefined)
    throw new UsageError(
      `--funding must be one of ${[...FUNDINGS.keys()].join(', ')} (got '${fundingText}')`,
      'campaign create',
    );
  const now = Date.now();
  return {
    campaignId: '',
    tenancy: {
      operatorId: v.required('operator'),
      projectId: v.string('project') ?? '',
      merchantId: v.string('merchant') ?? '',
    },
    name: v.required('name'),
    status: CampaignStatus.CAMPAIGN_STATUS_UNSPECIFIED,
    discount: discountOf(v, currency),
    funding,
    targeting: {
      projectIds: v.list('target-project'),
      merchantIds: v.list('target-merchant'),
      scenarios: [],
      tiers: v.list('target-tier'),
    },
    stacking: {
      exclusive: yesNo(v, 'exclusive', 'campaign create'),
      group: v.string('group') ?? '',
      priority: v.int32('priority', 0),
    },
    claimFrom: timeOption(v, 'claim-from') ?? { seconds: BigInt(Math.floor(now / 1000)), nanos: 0 },
    claimUntil: timeOption(v, 'claim-until'),
    couponValidDays: v.int32('valid-days'),
    useUntil: timeOption(v, 'use-until'),
    maxCoupons: v.integer('max-coupons'),
    maxSpend:
      v.string('max-spend') === undefined ? undefined : { currency, amountMinor: v.integer('max-spend') },
    perUserLimit: v.int32('per-user', 0),
    perHouseholdLimit: v.int32('per-household', 0),
    perUserDailyLimit: v.int32('per-day', 0),
    flashSale: yesNo(v, 'flash-sale', 'campaign create'),
    genericCode: v.string('generic-code') ?? '',
    claimed: 0n,
    redeemed: 0n,
    claimedValue: undefined,
    redeemedDiscount: undefined,
    createdAt: undefined,
    updatedAt: undefined,
  };
}

function parseShortfallPolicy(text: string): ShortfallPolicy {
  const policy = SHORTFALL_POLICIES.get(text.trim().toLowerCase());
  if (policy === undefined)
    throw new UsageError(
      `--shortfall-policy must be one of ${[...SHORTFALL_POLICIES.keys()].join(', ')} (got '${text}')`,
      'points programme set',
    );
  return policy;
}

/** "Gold:5000:1500" -> a tier; the name may hold colons (the last two parts are the numbers). */
export function parseTier(text: string): { name: string; threshold: bigint; multiplierPermille: number } {
  const parts = text.split(':');
  const multiplier = parts.pop() ?? '';
  const threshold = parts.pop() ?? '';
  const name = parts.join(':');
  if (name === '' || !/^\d{1,18}$/.test(threshold) || !/^\d{1,9}$/.test(multiplier))
    throw new UsageError(
      `--tier must be <name>:<threshold>:<multiplier per mille>, e.g. Gold:5000:1500 (got '${text}')`,
      'points programme set',
    );
  return { name, threshold: BigInt(threshold), multiplierPermille: Number(multiplier) };
}

function withRequestId(v: OptionValues): { requestId?: string } {
  const requestId = v.requestId();
  return requestId === undefined ? {} : { requestId };
}

const CLASSIFICATIONS: ReadonlyMap<string, Classification> = new Map([
  ['public', Classification.CLASSIFICATION_PUBLIC],
  ['internal', Classification.CLASSIFICATION_INTERNAL],
  ['personal', Classification.CLASSIFICATION_PERSONAL],
  ['sensitive', Classification.CLASSIFICATION_SENSITIVE],
]);

function parseClassification(text: string): Classification {
  const c = CLASSIFICATIONS.get(text.trim().toLowerCase());
  if (c === undefined)
    throw new UsageError(
      `--classification must be one of ${[...CLASSIFICATIONS.keys()].join(', ')} (got '${text}')`,
      'datasets classify',
    );
  return c;
}

const MASKINGS: ReadonlyMap<string, Masking> = new Map([
  ['clear', Masking.MASKING_CLEAR],
  ['drop', Masking.MASKING_DROP],
  ['hash', Masking.MASKING_HASH],
  ['last4', Masking.MASKING_LAST4],
  ['month', Masking.MASKING_MONTH],
  ['amount-band', Masking.MASKING_AMOUNT_BAND],
  ['district', Masking.MASKING_DISTRICT],
]);

function parseGrantedField(text: string): { name: string; masking: Masking } {
  const [name, masking] = text.split(':');
  const m = MASKINGS.get((masking ?? '').trim().toLowerCase());
  if (!name || m === undefined)
    throw new UsageError(
      `--field must be <name>:<masking>, masking one of ${[...MASKINGS.keys()].join(', ')} (got '${text}')`,
      'feeds grant',
    );
  return { name: name.trim(), masking: m };
}

function parseTimestampOption(text: string, option: string, topic: string): Timestamp {
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(ms))
    throw new UsageError(
      `--${option} must be an RFC 3339 time, e.g. 2026-12-31T00:00:00Z (got '${text}')`,
      topic,
    );
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

function withSave<C extends Command>(command: C, v: OptionValues): C {
  const save = v.string('save');
  return save === undefined ? command : { ...command, save };
}

/** Every group of commands: the leading words of the commands' names ("client", "points", "points budget"). */
const GROUPS = [
  ...new Set(
    SPECS.map((s) => s.name.split(' ')).flatMap((w) => w.slice(1).map((_, i) => w.slice(0, i + 1).join(' '))),
  ),
];

/** Every option of a command, including the common ones (commander adds -h, --help). */
function optionsOf(spec: CommandSpec): Record<string, OptionSpec> {
  return {
    ...spec.options,
    ...(spec.mutating ? { 'request-id': REQUEST_ID_OPTION } : {}),
    ...(spec.api ? { credentials: CREDENTIALS_OPTION } : {}),
  };
}

function subcommandsOf(group: string): string[] {
  return SPECS.filter((s) => s.name.startsWith(`${group} `)).map((s) => s.name.slice(group.length + 1));
}

/** The options part of a command's usage line, e.g. "--name <name> [--request-id <id>]". */
function synopsis(spec: CommandSpec): string {
  const argument = spec.argument ? `<${spec.argument.name}> ` : '';
  return (
    argument +
    Object.entries(optionsOf(spec))
      .map(([name, o]) => {
        const text = `--${name} ${o.value ?? '<value>'}${o.multiple ? '...' : ''}`;
        return o.required ? text : `[${text}]`;
      })
      .join(' ')
  );
}

const HELP_WIDTH = 100;

/** The commands (not groups) below a commander command, at any depth. */
function leavesOf(cmd: CommanderCommand): CommanderCommand[] {
  return cmd.commands.flatMap((sub) => (sub.commands.length > 0 ? leavesOf(sub) : [sub]));
}

/** Thrown out of commander when it has written a help text: parseCommandLine returns the text. */
class HelpShown extends Error {}

/** The full name of a commander command below the program, e.g. "client create"; '' for the program. */
function fullName(cmd: CommanderCommand): string {
  const names: string[] = [];
  for (let c: CommanderCommand | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * The first quoted flag of a commander message without its value placeholder: "error: option
 * '--name <name>' argument missing" -> "--name".
 */
function flagIn(message: string): string {
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? '';
  return quoted.split(/[ ,]+/).find((w) => w.startsWith('-')) ?? quoted;
}

/** Commander's refusal as our UsageError, by where it happened: the program, a group or a command. */
function usageError(err: CommanderError, cmd: CommanderCommand): Error {
  if (err.code === 'commander.helpDisplayed') return new HelpShown();
  const name = fullName(cmd);
  const isProgram = name === '';
  const isGroup = !isProgram && GROUPS.includes(name);
  const needsSubcommand = () =>
    new UsageError(`'${name}' needs a subcommand: ${subcommandsOf(name).join(', ')}`, name);
  switch (err.code) {
    case 'commander.help': // a program or group without a command after it
      return isProgram ? new UsageError('no command given', '') : needsSubcommand();
    case 'commander.unknownCommand': {
      const word = cmd.args[0] ?? '';
      if (isProgram) return new UsageError(`unknown command '${word}'`, '');
      const subs = subcommandsOf(name).join(', ');
      return new UsageError(`unknown command '${name} ${word}' (one of: ${subs})`, name);
    }
    case 'commander.unknownOption':
      if (isProgram) return new UsageError(`expected a command before ${flagIn(err.message)}`, '');
      if (isGroup) return needsSubcommand();
      return new UsageError(`unknown option ${flagIn(err.message)}`, name);
    case 'commander.optionMissingArgument':
      return new UsageError(`option ${flagIn(err.message)} needs a value`, name);
    case 'commander.excessArguments':
      return new UsageError(`unexpected argument '${cmd.args[0] ?? ''}'`, name);
    default:
      return new UsageError(err.message.replace(/^error: /, ''), name);
  }
}

/**
 * The commander program for one parse: its actions store the parsed command in `result`, its help
 * goes to `result` too (nothing is written to the process), and every error is thrown.
 */
function buildProgram(argv: readonly string[], result: { parsed?: Parsed; help: string }): CommanderCommand {
  const configure = (cmd: CommanderCommand): CommanderCommand =>
    cmd
      .helpOption('-h, --help', 'show this help')
      .helpCommand(false) // `citybase help <command...>` is handled by parseCommandLine
      .configureOutput({
        writeOut: (text) => void (result.help += text),
        writeErr: () => undefined,
        outputError: () => undefined,
      })
      .configureHelp({
        helpWidth: HELP_WIDTH,
        styleTitle: (title) => title.toLowerCase(),
        subcommandTerm: (sub) => (cmd.parent ? fullName(sub) : `citybase ${fullName(sub)}`),
        subcommandDescription: (sub) => sub.summary() || sub.description(),
        // the program lists every command, not only the groups
        visibleCommands: (c) => leavesOf(c),
      })
      .exitOverride((err) => {
        throw usageError(err, cmd);
      });

  const program = configure(new CommanderCommand('citybase'))
    .usage('<command> [options]')
    .description(
      'Operator tool of a Citybase city: initialise the city, then manage operators, projects, API\n' +
        'clients and the token signing keys through the identity service, and points programmes,\n' +
        'budgets, earning rules, issuance and balances through the points service.',
    )
    .addHelpText(
      'after',
      [
        '  citybase help [<command>]',
        '',
        "'citybase <command> --help' shows the options of a command.",
        '',
        ...ENVIRONMENT,
        '',
        'environment (init): DATABASE_URL, IDENTITY_MASTER_KEY, CITY_ID as for the identity service;',
        "  CITYBASE_IDENTITY_ADMIN  path of identity's admin.js (default services/identity/dist/admin.js)",
        '',
        ...OUTPUT,
      ]
        .map((line) => `${line}\n`)
        .join(''),
    );

  const groups = new Map<string, CommanderCommand>();
  const groupOf = (group: string): CommanderCommand => {
    let cmd = groups.get(group);
    if (!cmd) {
      const words = group.split(' ');
      const parent = words.length > 1 ? groupOf(words.slice(0, -1).join(' ')) : program;
      cmd = configure(parent.command(words[words.length - 1]))
        .usage('<command> [options]')
        .description(`${group} commands`)
        .addHelpText('after', `\n'citybase ${group} <command> --help' shows the options of a command.\n`);
      groups.set(group, cmd);
    }
    return cmd;
  };

  for (const spec of SPECS) {
    const words = spec.name.split(' ');
    const parent = words.length > 1 ? groupOf(words.slice(0, -1).join(' ')) : program;
    const cmd = configure(parent.command(words[words.length - 1]))
      .usage(synopsis(spec))
      .summary(spec.summary)
      .description(
        [
          `${spec.summary[0].toUpperCase()}${spec.summary.slice(1)}.`,
          ...(spec.details.length ? ['', ...spec.details] : []),
        ].join('\n'),
      )
      .addHelpText(
        'after',
        [...(spec.api ? ['', ...ENVIRONMENT] : []), '', ...OUTPUT].map((line) => `${line}\n`).join(''),
      );
    for (const [name, o] of Object.entries(optionsOf(spec))) {
      const notes = [o.required ? 'required' : '', o.multiple ? 'repeatable' : ''].filter((n) => n !== '');
      const option = new Option(
        `--${name} ${o.value ?? '<value>'}`,
        `${o.description}${notes.length ? ` (${notes.join(', ')})` : ''}`,
      ).argParser((value: string, previous: string[] | undefined) => {
        // commander takes the next word as the value even if it is an option; that is almost always
        // a forgotten value. The --opt=value form says the dash is meant.
        if (value.startsWith('-') && !argv.includes(`--${name}=${value}`)) {
          throw new UsageError(
            `option --${name} needs a value (got '${value}'; write --${name}=${value} if that is the value)`,
            spec.name,
          );
        }
        return [...(previous ?? []), value]; // repeats are judged by OptionValues
      });
      cmd.addOption(option);
    }
    if (spec.argument) cmd.argument(`<${spec.argument.name}>`, spec.argument.description);
    cmd.action(() => {
      const opts = cmd.opts<Record<string, string[] | undefined>>();
      const values = new Map<string, string[]>();
      for (const option of cmd.options) {
        const name = option.long?.replace(/^--/, '') ?? '';
        const value = opts[option.attributeName()];
        if (name !== 'help' && value !== undefined) values.set(name, value);
      }
      if (spec.argument && cmd.args[0] !== undefined) values.set(`_${spec.argument.name}`, [cmd.args[0]]);
      for (const [name, o] of Object.entries(optionsOf(spec))) {
        if (o.required && !values.has(name)) {
          throw new UsageError(`missing required option --${name}`, spec.name);
        }
      }
      result.parsed = { kind: 'command', command: spec.build(new OptionValues(spec.name, values)) };
    });
  }
  return program;
}

/** Parses the arguments after `citybase` with commander. Throws UsageError for anything malformed. */
export function parseCommandLine(argv: readonly string[]): Parsed {
  // `citybase help <words>` is `citybase <words> --help`, for a command of two words too.
  if (argv[0] === 'help') {
    const words = argv.slice(1);
    const topic = words.join(' ');
    if (words.length > 0 && !COMMAND_NAMES.includes(topic as CommandName) && !GROUPS.includes(topic)) {
      throw new UsageError(`no help for unknown command '${topic}'`, '');
    }
    return parseOnce([...words, '--help']);
  }
  return parseOnce(argv);
}

function parseOnce(argv: readonly string[]): Parsed {
  const result: { parsed?: Parsed; help: string } = { help: '' };
  try {
    buildProgram(argv, result).parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof HelpShown) return { kind: 'help', text: result.help.trimEnd() };
    throw err;
  }
  if (!result.parsed) throw new Error(`commander parsed ${argv.join(' ')} without running a command`);
  return result.parsed;
}

const ENVIRONMENT = [
  'environment (commands that call identity):',
  '  CITYBASE_IDENTITY_URL    HTTP endpoint of identity, for tokens (default http://127.0.0.1:8081)',
  '  CITYBASE_IDENTITY_GRPC   gRPC address of identity (default 127.0.0.1:50051)',
  '  CITYBASE_POINTS_GRPC     gRPC address of points (default 127.0.0.1:50054)',
  '  CITYBASE_MARKETING_GRPC  gRPC address of marketing (default 127.0.0.1:50055)',
  '  CITYBASE_DATA_GRPC       gRPC address of data (default 127.0.0.1:50057)',
  '  CITYBASE_CLIENT_ID, CITYBASE_CLIENT_SECRET',
  '                           credentials, when --credentials is not given',
];

const OUTPUT = [
  'output: one JSON object on stdout per command (int64 values as strings, enums by name without',
  'prefix, timestamps in RFC 3339 UTC). Errors: one line on stderr; exit code 2 for a wrong command',
  'line, 1 for a failure (gRPC errors show the status name, e.g. "PERMISSION_DENIED: ...").',
];

/** Names of every command, for tests and help. */
export const COMMAND_NAMES: readonly CommandName[] = SPECS.map((s) => s.name);

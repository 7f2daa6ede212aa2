import { createHash, randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { Client } from 'pg';
import {
  DescriptorProto,
  EnumDescriptorProto,
  FieldDescriptorProto,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorSet,
} from '@citybase/contracts/google/protobuf/descriptor';
import { RpcAuthDeclaration } from '@citybase/contracts/rpc-auth';
import { STRING_MAX_DEFAULT, STRING_MAX_OVERRIDES } from '@citybase/platform';
import {
  kafkaTestPrefix,
  seededRandom,
  TestIssuer,
  TestTokenOptions,
  uniqueName,
} from '@citybase/platform/testing';
import {
  ALL_SCOPES,
  buildWorld,
  declarations,
  descriptorSet,
  Json,
  processOf,
  RpcClients,
  ServiceFleet,
  SERVICES,
  toCamel,
  validIdNumber,
  World,
} from '../src';

/**
 * Hostile input on every field of every RPC of every service. The RPCs and their request messages
 * are read from the contracts' descriptor set, so a new RPC or field is covered without editing this
 * file. For each RPC it sends, with a token holding every scope (and city:admin):
 *   - a baseline request, every field filled with a plausible value guessed from its name and type
 *     (ids of a small real world built in beforeAll, valid phones, days, currencies...);
 *   - for each field (nested and repeated fields too), the baseline with that field replaced by
 *     hostile values: strings empty, blank, with NUL, with a lone surrogate, of 4,096 and 5,000
 *     characters, SQL and path fragments, forged page tokens, ids of nothing; int64 / int32 extremes;
 *     unknown enum numbers; flipped bools; 0 and 50-element repeated fields; omitted messages;
 *   - random bytes as the whole message.
 * Values are SAMPLED per field with a seeded PRNG (the full cross product would take far too long
 * for `npm test`): every string field gets one of NUL / lone surrogate / 5,000 characters plus two
 * more of its pool, every other field up to three of its pool. The seed is printed; HOSTILE_SEED=<n>
 * replays exactly, HOSTILE_PER_FIELD=<n> samples more values per field.
 *
 * Pass: no INTERNAL or UNKNOWN (except grpc-js's own "Error deserializing request"), every NUL /
 * lone surrogate / overlong string is INVALID_ARGUMENT naming that field (the platform's request
 * hygiene, docs/request-hygiene.md), no service process exits, and a refused call (any status but
 * OK; REFUSALS_THAT_RECORD lists the deliberate exceptions) changes the row count of no table of the
 * service's database. Calls within an RPC run one at a time, and every service has its own Kafka
 * topic prefix (no service consumes another's events), so a changed count is the call's doing.
 */

const SEED = Number(process.env.HOSTILE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const PER_FIELD = Number(process.env.HOSTILE_PER_FIELD ?? 3);
console.log(`hostile-input: HOSTILE_SEED=${SEED} (set it to replay), ${PER_FIELD} sampled values per field`);

/** One seeded stream per RPC, so that -t on one RPC replays it too. */
const rngFor = (path: string) =>
  seededRandom(SEED ^ createHash('sha256').update(path).digest().readUInt32BE(0));
function sample<T>(pool: readonly T[], n: number, rnd: () => number): T[] {
  const copy = [...pool];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

// ---- the contracts ----------------------------------------------------------------------------

const EVERY_SCOPE: TestTokenOptions = { scopes: [...ALL_SCOPES, 'city:admin'] };

const messages = new Map<string, DescriptorProto>();
const enums = new Map<string, EnumDescriptorProto>();
const inputTypes = new Map<string, string>();
{
  const addMessage = (name: string, m: DescriptorProto) => {
    messages.set(name, m);
    for (const n of m.nestedType) addMessage(`${name}.${n.name}`, n);
    for (const e of m.enumType) enums.set(`${name}.${e.name}`, e);
  };
  for (const file of FileDescriptorSet.decode(descriptorSet).file) {
    for (const m of file.messageType) addMessage(`.${file.package}.${m.name}`, m);
    for (const e of file.enumType) enums.set(`.${file.package}.${e.name}`, e);
    for (const s of file.service)
      for (const m of s.method) inputTypes.set(`/${file.package}.${s.name}/${m.name}`, m.inputType ?? '');
  }
}

type Kind =
  'string' | 'bytes' | 'bool' | 'enum' | 'int64' | 'uint64' | 'int32' | 'uint32' | 'float' | 'message';
const KINDS: Partial<Record<Type, Kind>> = {
  [Type.TYPE_STRING]: 'string',
  [Type.TYPE_BYTES]: 'bytes',
  [Type.TYPE_BOOL]: 'bool',
  [Type.TYPE_ENUM]: 'enum',
  [Type.TYPE_INT64]: 'int64',
  [Type.TYPE_SINT64]: 'int64',
  [Type.TYPE_SFIXED64]: 'int64',
  [Type.TYPE_UINT64]: 'uint64',
  [Type.TYPE_FIXED64]: 'uint64',
  [Type.TYPE_INT32]: 'int32',
  [Type.TYPE_SINT32]: 'int32',
  [Type.TYPE_SFIXED32]: 'int32',
  [Type.TYPE_UINT32]: 'uint32',
  [Type.TYPE_FIXED32]: 'uint32',
  [Type.TYPE_DOUBLE]: 'float',
  [Type.TYPE_FLOAT]: 'float',
  [Type.TYPE_MESSAGE]: 'message',
};
const kindOf = (f: FieldDescriptorProto): Kind => KINDS[f.type ?? Type.TYPE_INT32] ?? 'int32';

// ---- baseline requests ---------------------------------------------------------------------------

const rid = () => uniqueName('hostile');
let phoneSeq = 0;
const phone = () => `139${String(10_000_000 + ++phoneSeq * 7919).padStart(8, '0')}`;
const idNumber = () => validIdNumber('110105', '19900101', String(100 + (++phoneSeq % 900)));

function baseString(name: string, world: World): string {
  if (name === 'request_id') return rid();
  // the ids of the world built in beforeAll, by the field names that refer to them
  if (toCamel(name) in world) return world[toCamel(name) as keyof World];
  if (name.endsWith('_staff_id')) return world.staffId;
  if (name === 'head_resident_id') return world.residentId;
  if (name === 'channel_id') return 'hostile-pay';
  if (name.endsWith('_id')) return randomUUID();
  if (name.endsWith('phone')) return phone();
  if (name.endsWith('id_number')) return idNumber();
  const fixed: Record<string, string> = {
    currency: 'CNY',
    day: '2026-11-22',
    from_day: '2026-11-01',
    to_day: '2026-11-30',
    period: '2026-11',
    endpoint: 'http://127.0.0.1:9',
    csv: 'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at\n',
    scope: 'payment:write',
    scopes: 'payment:write',
    grant_type: 'client_credentials',
    bank_account: '6222020000000000',
    credentials: 'hostile-key-0123456789',
    page_token: '',
    merchant_no: 'm-hostile',
    operator_ids: world.operatorId,
    project_ids: world.projectId,
  };
  return fixed[name] ?? 'hostile ok';
}

function baseScalar(f: FieldDescriptorProto, world: World): unknown {
  const name = f.name ?? '';
  const kind = kindOf(f);
  if (kind === 'string') return baseString(name, world);
  if (kind === 'bytes') return Buffer.from('hostile');
  if (kind === 'bool') return true;
  if (kind === 'enum') {
    const values = enums.get(f.typeName ?? '')?.value ?? [];
    return values.find((v) => v.number !== 0)?.number ?? 0;
  }
  if (kind === 'int64' || kind === 'uint64') {
    if (name === 'seconds') return String(Math.floor(Date.now() / 1000) + 3600);
    if (name === 'amount_minor') return '100';
    return name.startsWith('max_') || name.startsWith('min_') ? '0' : '1';
  }
  if (name === 'nanos' || name === 'priority') return 0;
  if (name === 'page_size') return 10;
  if (name.endsWith('_bps')) return 100;
  return 1;
}

function baseMessage(typeName: string, world: World, depth = 0): Json {
  const m = messages.get(typeName);
  const out: Json = {};
  if (!m || depth > 4) return out;
  for (const f of m.field) {
    const value =
      kindOf(f) === 'message' ? baseMessage(f.typeName ?? '', world, depth + 1) : baseScalar(f, world);
    out[f.name ?? ''] = f.label === Label.LABEL_REPEATED ? [value] : value;
  }
  return out;
}

// ---- hostile values ------------------------------------------------------------------------------

interface Leaf {
  /** Proto path as the platform names it (e.g. `rules[0].channel_id`). */
  path: string;
  /** Keys from the request root to the value. */
  keys: (string | number)[];
  field: FieldDescriptorProto;
  /** The fully-qualified field name (`citybase.x.v1.Msg.field`), for the max-length overrides. */
  qualified: string;
}

/** Every field of a request: scalars (with their path), repeated fields and message fields. */
function leaves(typeName: string, prefix = '', keys: (string | number)[] = [], depth = 0): Leaf[] {
  const m = messages.get(typeName);
  if (!m || depth > 4) return [];
  const out: Leaf[] = [];
  for (const f of m.field) {
    const name = f.name ?? '';
    // a map<string, string> (iot's command args) is sent as its baseline only: the platform refuses
    // a bad key or value naming `args` / `args["key"]`, not the entry path `args[0].key` used here
    if (kindOf(f) === 'message' && messages.get(f.typeName ?? '')?.options?.mapEntry) continue;
    const repeated = f.label === Label.LABEL_REPEATED;
    const path = `${prefix}${name}${repeated ? '[0]' : ''}`;
    const k = repeated ? [...keys, name, 0] : [...keys, name];
    out.push({ path, keys: k, field: f, qualified: `${typeName.slice(1)}.${name}` });
    if (kindOf(f) === 'message') out.push(...leaves(f.typeName ?? '', `${path}.`, k, depth + 1));
  }
  return out;
}

/** The strings the platform's request hygiene must refuse, whatever the field. */
const EDGE_REFUSED: [string, string][] = [
  ['a NUL character', 'Alpha\u0000Co'],
  ['a lone high surrogate', 'x\ud800y'],
  ['a lone low surrogate', '\udc00tail'],
  ['5,000 characters', 'x'.repeat(5000)],
];
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');
const STRING_POOL: [string, string][] = [
  ['empty', ''],
  ['blank', '   '],
  ['4,096 characters', 'y'.repeat(STRING_MAX_DEFAULT)],
  ['SQL', "' OR '1'='1'; DROP TABLE operators; --"],
  ['a path', '../../../../etc/passwd'],
  ['emoji', '🏢'.repeat(30)],
  ['a right-to-left override', 'abc\u202edef'],
  ['the nil UUID', '00000000-0000-0000-0000-000000000000'],
  ['a UUID of nothing', randomUUID()],
  ['an upper-case UUID with a space', ` ${randomUUID().toUpperCase()}`],
  ['an impossible day', '2026-02-30'],
  ['a far day', '9999-12-31'],
  ['a huge number', '99999999999999999999999999'],
];
const FORGED_TOKENS: [string, string][] = [
  ['a forged token (JSON)', b64('{"created_at":"yesterday","id":"1"}')],
  ['a forged token (not base64)', 'not-a-token!'],
  ['a forged token (random bytes)', b64(Buffer.from(Array.from({ length: 48 }, (_, i) => (i * 37) % 256)))],
  ['a forged token (huge offset)', b64('{"offset":99999999999999999999,"id":"\' OR 1=1"}')],
  ['a forged token (array)', b64('[1,2,3]')],
];
const INT64: [string, string][] = [
  ['int64 max', '9223372036854775807'],
  ['int64 min', '-9223372036854775808'],
  ['-1', '-1'],
  ['0', '0'],
];
const UINT64: [string, string][] = [
  ['uint64 max', '18446744073709551615'],
  ['0', '0'],
];
const INT32: [string, number][] = [
  ['int32 max', 2147483647],
  ['int32 min', -2147483648],
  ['-1', -1],
  ['0', 0],
];
const UINT32: [string, number][] = [
  ['uint32 max', 4294967295],
  ['0', 0],
];
const FLOATS: [string, number][] = [
  ['infinity', Infinity],
  ['NaN', NaN],
  ['-0', -0],
];
const ENUMS: [string, number][] = [
  ['UNSPECIFIED', 0],
  ['unknown enum 99', 99],
  ['unknown enum -1', -1],
  ['unknown enum int32 max', 2147483647],
];

interface Case {
  label: string;
  leaf?: Leaf;
  value?: unknown;
  /** Must be refused INVALID_ARGUMENT naming the leaf (the edge's rule), unless the RPC is unimplemented. */
  edgeRefused?: boolean;
  /** Random bytes sent as the whole message. */
  raw?: Buffer;
}

function casesFor(path: string, inputType: string): Case[] {
  const rnd = rngFor(path);
  const out: Case[] = [{ label: 'baseline' }];
  for (const leaf of leaves(inputType)) {
    const f = leaf.field;
    const pick = <T>(pool: [string, T][], n = PER_FIELD) =>
      sample(pool, n, rnd).map(([label, value]) => ({ label, leaf, value }));
    if (f.label === Label.LABEL_REPEATED) {
      out.push({ label: 'no elements', leaf: { ...leaf, keys: leaf.keys.slice(0, -1) }, value: [] });
      out.push({ label: '50 elements', leaf: { ...leaf, keys: leaf.keys.slice(0, -1) }, value: 'x50' });
    }
    const kind = kindOf(f);
    if (kind === 'string') {
      const max = STRING_MAX_OVERRIDES[leaf.qualified] ?? STRING_MAX_DEFAULT;
      const [label, value] = sample(EDGE_REFUSED, 1, rnd)[0]!;
      out.push({ label, leaf, value, edgeRefused: label !== '5,000 characters' || value.length > max });
      const pool = (f.name ?? '') === 'page_token' ? [...FORGED_TOKENS, ...STRING_POOL] : STRING_POOL;
      out.push(...pick(pool));
    } else if (kind === 'message') {
      // an element of a repeated field cannot be omitted; 'no elements' above covers it
      if (f.label !== Label.LABEL_REPEATED) out.push({ label: 'omitted', leaf, value: undefined });
    } else if (kind === 'enum') out.push(...pick(ENUMS));
    else if (kind === 'bool') out.push({ label: 'false', leaf, value: false });
    else if (kind === 'uint64') out.push(...pick(UINT64));
    else if (kind === 'int64') out.push(...pick(INT64));
    else if (kind === 'uint32') out.push(...pick(UINT32));
    else if (kind === 'float') out.push(...pick(FLOATS));
    else if (kind === 'bytes') out.push({ label: 'empty bytes', leaf, value: Buffer.alloc(0) });
    else out.push(...pick(INT32));
  }
  for (const length of [1 + Math.floor(rnd() * 16), 16 + Math.floor(rnd() * 256)]) {
    const raw = Buffer.from(Array.from({ length }, () => Math.floor(rnd() * 256)));
    out.push({ label: `${length} random bytes as the message`, raw });
  }
  return out;
}

/** A change of a request: the value at `keys` (undefined removes it; 'x50' repeats the element 50 times). */
interface Change {
  keys: (string | number)[];
  value: unknown;
}
function apply(request: Json, change: Change): void {
  let node = request as Record<string | number, unknown>;
  const keys = change.keys;
  for (const k of keys.slice(0, -1)) {
    if (!node[k] || typeof node[k] !== 'object') return; // the parent was removed by an earlier change
    node = node[k] as Record<string | number, unknown>;
  }
  const last = keys[keys.length - 1]!;
  if (change.value === undefined) {
    // an element of a repeated field is taken out, not left as a hole (which no encoder takes)
    if (Array.isArray(node) && typeof last === 'number') node.splice(last, 1);
    else delete node[last];
  } else if (change.value === 'x50' && Array.isArray(node[last])) {
    const element = (node[last] as unknown[])[0];
    node[last] = Array.from({ length: 50 }, () => element);
  } else node[last] = change.value;
}

/** The baseline, with the RPC's repairs, then the case's field replaced. */
function requestFor(c: Case, inputType: string, world: World, repairs: Change[]): Json {
  const request = baseMessage(inputType, world);
  const target = c.leaf?.keys ?? [];
  // a repair that removed or emptied the parent of the case's field gives way to the case
  const within = (r: Change) => r.keys.length < target.length && r.keys.every((k, i) => target[i] === k);
  for (const r of repairs) if (!within(r)) apply(request, r);
  if (c.leaf) apply(request, { keys: target, value: c.value });
  return request;
}

/**
 * Values to try when the service refuses the guessed baseline naming a field (e.g. "must be empty
 * when building_id is set", "must be 1-64 letters, digits..."): the baseline gets deeper into the
 * handler without anyone writing a baseline per RPC.
 */
function repairCandidates(f: FieldDescriptorProto): unknown[] {
  const kind = kindOf(f);
  if (kind === 'string') return ['', 'hostile-ok', 'hostile', 'H1'];
  if (kind === 'enum') {
    const values = (enums.get(f.typeName ?? '')?.value ?? []).map((v) => v.number ?? 0);
    return [...values.filter((v) => v !== 0), 0];
  }
  if (kind === 'bool') return [false, true];
  if (kind === 'message') return [undefined];
  if (kind === 'int64' || kind === 'uint64') return ['0', '60', '1000'];
  return [0, 60, 1000];
}

/**
 * Tables written in the background, not by a call: the outbox relay's wake-up bookkeeping changes
 * whenever the relay sleeps or wakes after earlier (successful) calls.
 */
const BACKGROUND_TABLES = new Set(['public.outbox_relay_awake']);

/**
 * The only refusals that may write, each with its reason. Anything else that is not OK must leave
 * every table's row count unchanged.
 */
const REFUSALS_THAT_RECORD: Record<string, { code: grpc.status; why: string }> = {
  '/citybase.payment.v1.PaymentService/CreatePayment': {
    code: grpc.status.FAILED_PRECONDITION,
    why: 'a payment no channel will take is stored as failed (NO_CHANNEL), with its PaymentFailed event',
  },
  '/citybase.points.v1.PointsService/ConfirmReservation': {
    code: grpc.status.FAILED_PRECONDITION,
    why: 'a held reservation past its deadline expires (its points released, exactly once) before the call fails RESERVATION_EXPIRED',
  },
  '/citybase.points.v1.PointsService/CancelReservation': {
    code: grpc.status.FAILED_PRECONDITION,
    why: 'a held reservation past its deadline expires (its points released, exactly once) before the call fails RESERVATION_EXPIRED',
  },
};

const describeCase = (c: Case) =>
  c.leaf ? `${c.leaf.path} = ${c.label}` : c.label; /* the value itself may be 5,000 characters */

// ---- the test --------------------------------------------------------------------------------------

describe('hostile input: every field of every RPC of every service (from the descriptor set)', () => {
  let issuer: TestIssuer;
  let fleet: ServiceFleet | undefined;
  let rpc: RpcClients;
  const pgs = new Map<string, Client>();
  const tables = new Map<string, string[]>();
  let world: World;
  /** What each RPC's baseline request got: how deep the hostile values reach (printed at the end). */
  const baselines = new Map<string, string>();
  const started = Date.now();

  /** Changes that make the guessed baseline pass the service's field checks, as far as they go. */
  const repairBaseline = async (d: RpcAuthDeclaration, inputType: string): Promise<Change[]> => {
    const repairs: Change[] = [];
    const fields = leaves(inputType);
    const baseline = (extra: Change[]) =>
      rpc.call(
        d,
        requestFor({ label: 'baseline' }, inputType, world, [...repairs, ...extra]),
        issuer.metadata(EVERY_SCOPE),
      );
    for (let round = 0; round < 8; round++) {
      const r = await baseline([]);
      if (r.code !== grpc.status.INVALID_ARGUMENT || !r.field) break;
      const leaf = fields.find((l) => l.path === r.field || l.path === `${r.field}[0]`);
      if (!leaf) break;
      let repaired = false;
      for (const value of repairCandidates(leaf.field)) {
        const change = { keys: leaf.keys, value };
        const again = await baseline([change]);
        if (again.code !== grpc.status.INVALID_ARGUMENT || again.field !== r.field) {
          repairs.push(change);
          repaired = true;
          break;
        }
      }
      if (!repaired) break;
    }
    return repairs;
  };
  /** Row count of every table of a service's database, in one query. */
  const counts = async (service: string): Promise<Record<string, number>> => {
    const list = tables.get(service)!;
    if (list.length === 0) return {};
    const { rows } = await pgs
      .get(service)!
      .query<Record<string, number>>(
        `SELECT ${list.map((t, i) => `(SELECT count(*)::int FROM ${t}) AS t${i}`).join(', ')}`,
      );
    return Object.fromEntries(list.map((t, i) => [t, rows[0]![`t${i}`]!]));
  };

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    // a topic prefix per service: no service consumes another's events here, so the only writes
    // to a database are those of the calls made to its service
    fleet = new ServiceFleet({
      label: 'hostile',
      issuer,
      kafkaPrefix: (name) => kafkaTestPrefix(`hostile-${name}`),
      logLevel: 'warn',
    });
    rpc = new RpcClients((service) => fleet!.address(service));
    await fleet.start(SERVICES);
    for (const [name, db] of fleet.dbs) {
      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      pgs.set(name, pg);
      const { rows } = await pg.query<{ t: string }>(
        `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS t
           FROM information_schema.tables
          WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
          ORDER BY 1`,
      );
      tables.set(
        name,
        rows.map((r) => r.t),
      );
    }

    // A small real world, so that baseline requests name things that exist.
    world = await buildWorld((path, request) => rpc.ok(path, request, issuer.metadata(EVERY_SCOPE)), {
      label: 'Hostile',
      requestId: rid,
      phone,
      idNumber,
    });
  }, 240_000);

  afterAll(async () => {
    rpc?.close();
    for (const pg of pgs.values()) await pg.end();
    await fleet?.stop();
    await issuer?.stop();
    const byCode = new Map<string, number>();
    for (const b of baselines.values()) byCode.set(b.split(' ')[0]!, (byCode.get(b.split(' ')[0]!) ?? 0) + 1);
    const detail = process.env.HOSTILE_VERBOSE
      ? [...baselines].map(([p, b]) => `\n  ${p}: ${b}`).join('')
      : '';
    console.log(`hostile-input: baselines ${JSON.stringify(Object.fromEntries(byCode))}${detail}`);
    console.log(
      `hostile-input: ${rpc?.calls ?? 0} calls in ${Math.round((Date.now() - started) / 1000)} s, HOSTILE_SEED=${SEED}`,
    );
  });

  it('covers every RPC of every service, each with a request type in the descriptor set', () => {
    expect(declarations.length).toBeGreaterThan(40);
    expect(new Set(declarations.map(processOf))).toEqual(new Set(SERVICES));
    expect(
      declarations.filter((d) => !messages.has(inputTypes.get(d.path) ?? '')).map((d) => d.path),
    ).toEqual([]);
  });

  describe.each(declarations.map((d) => [d.path, d] as const))('%s', (path, d) => {
    it('answers every hostile request without INTERNAL or UNKNOWN, refuses bad strings naming the field, and a refused call writes nothing', async () => {
      const inputType = inputTypes.get(path)!;
      const service = processOf(d);
      const problems: string[] = [];
      let implemented = true;
      const repairs = await repairBaseline(d, inputType);
      let before = await counts(service);
      for (const c of casesFor(path, inputType)) {
        const md = issuer.metadata(EVERY_SCOPE);
        const r = c.raw
          ? await rpc.callBytes(d, c.raw, md)
          : await rpc.call(d, requestFor(c, inputType, world, repairs), md);
        const what = `${describeCase(c)} -> ${grpc.status[r.code]} ${r.details.slice(0, 200)}`;
        if (c.label === 'baseline') {
          baselines.set(path, `${grpc.status[r.code]} ${r.details.slice(0, 120)}`);
          if (r.code === grpc.status.UNIMPLEMENTED) implemented = false;
        }
        const deserializing = r.code === grpc.status.INTERNAL && r.details.startsWith('Error deserializing');
        if ((r.code === grpc.status.INTERNAL && !deserializing) || r.code === grpc.status.UNKNOWN)
          problems.push(what);
        if (c.edgeRefused && implemented) {
          if (r.code !== grpc.status.INVALID_ARGUMENT || r.field !== c.leaf?.path)
            problems.push(`${what} (expected INVALID_ARGUMENT naming ${c.leaf?.path}, got field ${r.field})`);
        }
        const after = await counts(service);
        if (r.code !== grpc.status.OK && REFUSALS_THAT_RECORD[path]?.code !== r.code) {
          const changed = Object.keys(after).filter(
            (t) => after[t] !== before[t] && !BACKGROUND_TABLES.has(t),
          );
          if (changed.length > 0) problems.push(`${what} wrote to ${changed.join(', ')}`);
        }
        before = after;
      }
      const proc = fleet!.procs.get(service)!;
      if (proc.proc.exitCode !== null || proc.proc.signalCode !== null)
        problems.push(`${service} exited: ${proc.output().slice(-2000)}`);
      expect({ seed: SEED, problems }).toEqual({ seed: SEED, problems: [] });
    });
  });

  it('left every service running', () => {
    const exited = [...fleet!.procs].filter(
      ([, p]) => p.proc.exitCode !== null || p.proc.signalCode !== null,
    );
    expect(exited.map(([name]) => name)).toEqual([]);
  });
});

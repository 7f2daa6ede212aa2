import { ProjectKind } from '@citybase/contracts/citybase/identity/v1/tenancy';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import {
  COMMAND_NAMES,
  type Command,
  DEFAULT_ADMIN_NAME,
  PROJECT_KINDS,
  parseCommandLine,
  parseProjectKind,
} from './commands';
import { UsageError, describeError } from './errors';

function command(...argv: string[]): Command {
  const parsed = parseCommandLine(argv);
  if (parsed.kind !== 'command') throw new Error(`expected a command, got help for ${argv.join(' ')}`);
  return parsed.command;
}

function help(...argv: string[]): string {
  const parsed = parseCommandLine(argv);
  if (parsed.kind !== 'help') throw new Error(`expected help for ${argv.join(' ')}`);
  return parsed.text;
}

function usageError(...argv: string[]): UsageError {
  try {
    parseCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error(`expected a usage error for: ${argv.join(' ')}`);
}

describe('parseCommandLine: valid command lines', () => {
  it('init: default admin name, --name and --save', () => {
    expect(command('init')).toEqual({ name: 'init', adminName: DEFAULT_ADMIN_NAME });
    expect(command('init', '--name', 'Ops team', '--save', '/tmp/admin.json')).toEqual({
      name: 'init',
      adminName: 'Ops team',
      save: '/tmp/admin.json',
    });
    expect(command('init', '--name=Ops')).toEqual({ name: 'init', adminName: 'Ops' });
  });

  it('operator create / list', () => {
    expect(command('operator', 'create', '--name', 'Sunshine Property')).toEqual({
      name: 'operator create',
      auth: {},
      operatorName: 'Sunshine Property',
    });
    expect(
      command('operator', 'create', '--name', 'X', '--request-id', 'req-1', '--credentials', 'c.json'),
    ).toEqual({
      name: 'operator create',
      auth: { credentialsFile: 'c.json' },
      requestId: 'req-1',
      operatorName: 'X',
    });
    expect(command('operator', 'list')).toEqual({ name: 'operator list', auth: {} });
    expect(command('operator', 'list', '--credentials', 'c.json')).toEqual({
      name: 'operator list',
      auth: { credentialsFile: 'c.json' },
    });
  });

  it('project create / list (options in any order)', () => {
    expect(
      command('project', 'create', '--kind', 'park', '--name', 'North Park', '--operator', 'op-1'),
    ).toEqual({
      name: 'project create',
      auth: {},
      operatorId: 'op-1',
      projectName: 'North Park',
      kind: ProjectKind.PROJECT_KIND_PARK,
    });
    expect(command('project', 'list', '--operator', 'op-1')).toEqual({
      name: 'project list',
      auth: {},
      operatorId: 'op-1',
    });
  });

  it('client create: repeated and comma-separated scopes, tenancy, --save', () => {
    expect(
      command(
        'client',
        'create',
        '--name',
        'Park app',
        '--scope',
        'identity:tenancy.read',
        '--scope',
        'payment:write,payment:read',
        '--operator',
        'op-1',
        '--project',
        'p-1',
        '--project',
        'p-2',
        '--save',
        'app.json',
        '--request-id',
        'r1',
      ),
    ).toEqual({
      name: 'client create',
      auth: {},
      requestId: 'r1',
      clientName: 'Park app',
      scopes: ['identity:tenancy.read', 'payment:write', 'payment:read'],
      operatorIds: ['op-1'],
      projectIds: ['p-1', 'p-2'],
      save: 'app.json',
    });
    // No tenancy options: the whole city; duplicate scopes collapse.
    expect(command('client', 'create', '--name', 'n', '--scope', 'a', '--scope', 'a')).toMatchObject({
      scopes: ['a'],
      operatorIds: [],
      projectIds: [],
    });
  });

  it('client list / rotate-secret / revoke, keys rotate', () => {
    expect(command('client', 'list')).toEqual({ name: 'client list', auth: {} });
    expect(command('client', 'rotate-secret', '--id', 'cb_abc')).toEqual({
      name: 'client rotate-secret',
      auth: {},
      clientId: 'cb_abc',
    });
    expect(command('client', 'rotate-secret', '--id', 'cb_abc', '--save', 'new.json')).toMatchObject({
      save: 'new.json',
    });
    expect(command('client', 'revoke', '--id', 'cb_abc', '--reason', 'leaked in a log')).toEqual({
      name: 'client revoke',
      auth: {},
      clientId: 'cb_abc',
      reason: 'leaked in a log',
    });
    expect(command('keys', 'rotate')).toEqual({ name: 'keys rotate', auth: {} });
    expect(command('keys', 'rotate', '--request-id', 'k-2026-01')).toEqual({
      name: 'keys rotate',
      auth: {},
      requestId: 'k-2026-01',
    });
  });

  it('points rule set / list, issue, balance', () => {
    expect(
      command(
        'points',
        'rule',
        'set',
        '--operator',
        'op-1',
        '--scenario',
        'ev-charging',
        '--points-per-yuan',
        '2',
        '--daily-cap',
        '500',
      ),
    ).toEqual({
      name: 'points rule set',
      auth: {},
      operatorId: 'op-1',
      projectId: '',
      scenario: PaymentScenario.PAYMENT_SCENARIO_EV_CHARGING,
      pointsPerYuan: 2,
      dailyCap: 500n,
    });
    expect(
      command(
        'points',
        'rule',
        'set',
        '--operator',
        'op-1',
        '--project',
        'p-1',
        '--scenario',
        'PAYMENT_SCENARIO_PARKING',
        '--points-per-yuan',
        '0',
        '--request-id',
        'r-1',
      ),
    ).toEqual({
      name: 'points rule set',
      auth: {},
      requestId: 'r-1',
      operatorId: 'op-1',
      projectId: 'p-1',
      scenario: PaymentScenario.PAYMENT_SCENARIO_PARKING,
      pointsPerYuan: 0,
      dailyCap: 0n,
    });
    expect(command('points', 'rule', 'list', '--operator', 'op-1')).toEqual({
      name: 'points rule list',
      auth: {},
      operatorId: 'op-1',
      projectId: '',
    });
    expect(
      command(
        'points',
        'issue',
        '--operator',
        'op-1',
        '--project',
        'p-1',
        '--holder',
        'u-1',
        '--points',
        '150',
        '--reason',
        'GOODWILL',
        '--expires-at',
        '2027-06-30T16:00:00.250+08:00',
      ),
    ).toEqual({
      name: 'points issue',
      auth: {},
      operatorId: 'op-1',
      projectId: 'p-1',
      holderId: 'u-1',
      points: 150n,
      reason: 'GOODWILL',
      expiresAt: { seconds: BigInt(Date.UTC(2027, 5, 30, 8, 0, 0) / 1000), nanos: 250_000_000 },
    });
    expect(
      command('points', 'issue', '--operator', 'op-1', '--holder', 'u-1', '--points', '1', '--reason', 'X'),
    ).toEqual({
      name: 'points issue',
      auth: {},
      operatorId: 'op-1',
      projectId: '',
      holderId: 'u-1',
      points: 1n,
      reason: 'X',
    });
    expect(command('points', 'balance', '--operator', 'op-1', '--holder', 'hh-1')).toEqual({
      name: 'points balance',
      auth: {},
      operatorId: 'op-1',
      holderId: 'hh-1',
    });
  });

  it('a value that starts with a dash is accepted in the --opt=value form', () => {
    expect(command('operator', 'create', '--name=-dash-')).toMatchObject({ operatorName: '-dash-' });
  });
});

describe('parseCommandLine: usage errors (exit code 2)', () => {
  const cases: [string[], RegExp, string][] = [
    [[], /no command given/, ''],
    [['frobnicate'], /unknown command 'frobnicate'/, ''],
    [['--name', 'x'], /expected a command before --name/, ''],
    [['operator'], /'operator' needs a subcommand: create, list/, 'operator'],
    [['operator', '--name', 'x'], /'operator' needs a subcommand/, 'operator'],
    [['operator', 'delete'], /unknown command 'operator delete'/, 'operator'],
    [
      ['client', 'destroy'],
      /unknown command 'client destroy' \(one of: create, list, rotate-secret, revoke\)/,
      'client',
    ],
    [['keys'], /'keys' needs a subcommand: rotate/, 'keys'],
    [['init', '--bogus'], /unknown option --bogus/, 'init'],
    [['init', 'extra'], /unexpected argument 'extra'/, 'init'],
    [['init', '--credentials', 'c.json'], /unknown option --credentials/, 'init'],
    [['init', '--request-id', 'r'], /unknown option --request-id/, 'init'],
    [['init', '--name'], /option --name needs a value/, 'init'],
    [['init', '--name', ''], /--name must not be empty/, 'init'],
    [['init', '--save', ' '], /--save must not be empty/, 'init'],
    [['operator', 'create'], /missing required option --name/, 'operator create'],
    [
      ['operator', 'create', '--name', 'a', '--name', 'b'],
      /option --name given more than once/,
      'operator create',
    ],
    [
      ['operator', 'create', '--name', '--request-id', 'r'],
      /option --name needs a value \(got '--request-id'/,
      'operator create',
    ],
    [['operator', 'create', '-n', 'x'], /unknown option -n/, 'operator create'],
    [['operator', 'create', '--name', 'x', '--save', 'f'], /unknown option --save/, 'operator create'],
    [['operator', 'list', '--request-id', 'r'], /unknown option --request-id/, 'operator list'],
    [['operator', 'list', 'more'], /unexpected argument 'more'/, 'operator list'],
    [
      ['operator', 'create', '--name', 'x', '--request-id', 'has space'],
      /--request-id must be 1-128 printable ASCII/,
      'operator create',
    ],
    [
      ['operator', 'create', '--name', 'x', '--request-id', 'r'.repeat(129)],
      /--request-id must be 1-128/,
      'operator create',
    ],
    [
      ['operator', 'create', '--name', 'x', '--credentials'],
      /option --credentials needs a value/,
      'operator create',
    ],
    [
      ['project', 'create', '--name', 'n', '--kind', 'park'],
      /missing required option --operator/,
      'project create',
    ],
    [
      ['project', 'create', '--operator', 'o', '--kind', 'park'],
      /missing required option --name/,
      'project create',
    ],
    [
      ['project', 'create', '--operator', 'o', '--name', 'n'],
      /missing required option --kind/,
      'project create',
    ],
    [
      ['project', 'create', '--operator', 'o', '--name', 'n', '--kind', 'mall'],
      /--kind must be one of residential, park, school, scenic, farm, parking, charging \(got 'mall'\)/,
      'project create',
    ],
    [
      ['project', 'create', '--operator', 'o', '--name', 'n', '--kind', 'unspecified'],
      /--kind must be one of/,
      'project create',
    ],
    [['project', 'list'], /missing required option --operator/, 'project list'],
    [['client', 'create', '--name', 'n'], /missing required option --scope/, 'client create'],
    [['client', 'create', '--scope', 's'], /missing required option --name/, 'client create'],
    [['client', 'create', '--name', 'n', '--scope', ' , '], /--scope must not be empty/, 'client create'],
    [
      ['client', 'create', '--name', 'n', '--scope', 's', '--operator', ''],
      /--operator must not be empty/,
      'client create',
    ],
    [
      ['client', 'create', '--name', 'n', '--scope', 's', '--save', 'a', '--save', 'b'],
      /option --save given more than once/,
      'client create',
    ],
    [['client', 'list', '--id', 'x'], /unknown option --id/, 'client list'],
    [['client', 'rotate-secret'], /missing required option --id/, 'client rotate-secret'],
    [['client', 'revoke', '--id', 'cb_x'], /missing required option --reason/, 'client revoke'],
    [['client', 'revoke', '--reason', 'r'], /missing required option --id/, 'client revoke'],
    [['keys', 'rotate', '--name', 'k'], /unknown option --name/, 'keys rotate'],
    [['help', 'operator', 'delete'], /no help for unknown command 'operator delete'/, ''],
  ];

  it.each(cases)('%j -> %s', (argv, message, topic) => {
    const err = usageError(...argv);
    expect(err.message).toMatch(message);
    expect(err.topic).toBe(topic);
  });

  it('renders as one line naming the help to read', () => {
    const line = describeError(usageError('operator', 'create'));
    expect(line).toBe("citybase: missing required option --name (see 'citybase operator create --help')");
    expect(describeError(usageError('nope'))).toBe("citybase: unknown command 'nope' (see 'citybase help')");
  });
});

describe('help', () => {
  it('citybase help, --help and -h print the whole tool with every command', () => {
    const text = help('help');
    expect(help('--help')).toBe(text);
    expect(help('-h')).toBe(text);
    for (const name of COMMAND_NAMES) expect(text).toContain(`citybase ${name}`);
    for (const v of [
      'CITYBASE_IDENTITY_URL',
      'CITYBASE_IDENTITY_GRPC',
      'CITYBASE_CLIENT_ID',
      'CITYBASE_CLIENT_SECRET',
    ]) {
      expect(text).toContain(v);
    }
  });

  it.each(COMMAND_NAMES.map((n) => [n]))('citybase %s --help lists its options', (name) => {
    const text = help(...name.split(' '), '--help');
    expect(text.startsWith(`usage: citybase ${name}`)).toBe(true);
    expect(help('help', ...name.split(' '))).toBe(text);
    expect(help(...name.split(' '), '-h')).toBe(text);
    expect(text).toContain('-h, --help');
    if (name === 'init') {
      expect(text).not.toContain('--credentials');
      expect(text).toContain('--save <file>');
    } else if (name === 'ledger check') {
      expect(text).not.toContain('--credentials');
      expect(text).toContain('--database <url>');
    } else if (name === 'feeds verify') {
      // offline: reads files only
      expect(text).not.toContain('--credentials');
      expect(text).toContain('usage: citybase feeds verify <export> [--evidence <file>...]');
    } else {
      expect(text).toContain('--credentials <file>');
    }
    const mutating =
      /create|rotate|revoke|(^| )set|issue|activate|pause|end$|codes|grant$|classify|scan$|cancel|refund|register|pay$|bind$|configure$/.test(
        name,
      );
    expect(text.includes('--request-id <id>')).toBe(mutating);
  });

  it('--help wins over other mistakes on the line', () => {
    expect(help('project', 'create', '--kind', 'mall', '--help')).toContain('usage: citybase project create');
    expect(help('keys', 'rotate', '--bogus', '-h')).toContain('usage: citybase keys rotate');
  });

  it('a group with --help lists its subcommands', () => {
    const text = help('client', '--help');
    for (const sub of ['create', 'list', 'rotate-secret', 'revoke']) expect(text).toContain(`client ${sub}`);
    expect(help('help', 'client')).toBe(text);
  });

  it('project create --help names every kind', () => {
    expect(help('project', 'create', '--help')).toContain(
      'residential|park|school|scenic|farm|parking|charging',
    );
  });

  it('help lines stay within 100 columns except the synopsis lines', () => {
    for (const name of COMMAND_NAMES) {
      const long = help('help', ...name.split(' '))
        .split('\n')
        .filter((l) => l.length > 100 && !l.startsWith('usage:'));
      expect(long).toEqual([]);
    }
  });
});

describe('parseProjectKind', () => {
  it('knows exactly the seven kinds of the proto', () => {
    expect([...PROJECT_KINDS.keys()]).toEqual([
      'residential',
      'park',
      'school',
      'scenic',
      'farm',
      'parking',
      'charging',
    ]);
  });

  it.each([
    ['residential', ProjectKind.PROJECT_KIND_RESIDENTIAL],
    ['PARK', ProjectKind.PROJECT_KIND_PARK],
    ['School', ProjectKind.PROJECT_KIND_SCHOOL],
    ['scenic', ProjectKind.PROJECT_KIND_SCENIC],
    ['farm', ProjectKind.PROJECT_KIND_FARM],
    ['parking', ProjectKind.PROJECT_KIND_PARKING],
    [' charging ', ProjectKind.PROJECT_KIND_CHARGING],
    ['PROJECT_KIND_PARKING', ProjectKind.PROJECT_KIND_PARKING],
  ])('%s -> %s', (text, kind) => {
    expect(parseProjectKind(text)).toBe(kind);
  });

  it.each(['', 'unspecified', 'PROJECT_KIND_UNSPECIFIED', 'unrecognized', 'parks', '1', 'mall'])(
    'rejects %j',
    (text) => {
      expect(() => parseProjectKind(text)).toThrow(UsageError);
    },
  );
});

describe('feeds verify', () => {
  it('takes the export as its argument, evidence files and a pinned key as options', () => {
    expect(
      parseCommandLine(['feeds', 'verify', 'log.json', '--evidence', 'a.json', '--evidence', 'b.json']),
    ).toEqual({
      kind: 'command',
      command: { name: 'feeds verify', exportFile: 'log.json', evidenceFiles: ['a.json', 'b.json'] },
    });
    expect(parseCommandLine(['feeds', 'verify', 'log.json', '--public-key', 'MCow'])).toMatchObject({
      command: { publicKey: 'MCow', evidenceFiles: [] },
    });
    expect(() => parseCommandLine(['feeds', 'verify'])).toThrow(UsageError);
  });
});

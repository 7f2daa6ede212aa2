import { DEFAULTS, parseArgs, UsageError } from './options';

const seed = () => 'rand';

describe('parseArgs', () => {
  it('has defaults: 2 ops/s, forever, a random seed', () => {
    const o = parseArgs([], {}, seed);
    expect(o).toMatchObject({ rate: DEFAULTS.rate, seed: 'rand', help: false });
    expect(o.durationS).toBeUndefined();
  });

  it('reads every flag; CITYBASE_SIM_RATE sets the rate and --rate wins over it', () => {
    const o = parseArgs(
      [
        '--rate',
        '0.5',
        '--duration',
        '30',
        '--seed',
        'abc',
        '--credentials',
        '/x.json',
        '--operators',
        '3',
        '--communities',
        '1',
        '--households',
        '2',
        '--sensors',
        '0',
        '--settle',
        '120',
      ],
      { CITYBASE_SIM_RATE: '7' },
      seed,
    );
    expect(o).toMatchObject({
      rate: 0.5,
      durationS: 30,
      seed: 'abc',
      credentialsFile: '/x.json',
      operators: 3,
      communitiesPerOperator: 1,
      householdsPerCommunity: 2,
      sensorsPerCommunity: 0,
      settleS: 120,
    });
    expect(parseArgs([], { CITYBASE_SIM_RATE: '0' }, seed).rate).toBe(0);
    expect(parseArgs(['--duration', 'forever'], {}, seed).durationS).toBeUndefined();
  });

  it.each([
    [['--rate', '-1']],
    [['--rate', 'fast']],
    [['--duration', '0']],
    [['--duration', '1.5']],
    [['--settle', '0']],
    [['--seed', 'a b']],
    [['--operators']],
    [['--bogus', '1']],
  ])('refuses %j', (argv) => {
    expect(() => parseArgs(argv, {}, seed)).toThrow(UsageError);
  });

  it('refuses a bad CITYBASE_SIM_RATE', () => {
    expect(() => parseArgs([], { CITYBASE_SIM_RATE: 'lots' }, seed)).toThrow('CITYBASE_SIM_RATE');
  });
});

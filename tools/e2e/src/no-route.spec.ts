import {
  isLoopback,
  outOfCity,
  OUTBOUND_FAILURE,
  parseConnectTrace,
  parseSockets,
  socketViolations,
} from './no-route';

const PORTS = new Set([5432, 9092, 50051, 8081]);

// Lines as strace 6 writes them (taken from a run of deploy/local/netns.sh).
const TRACE = `
101 connect(20, {sa_family=AF_INET, sin_port=htons(5432), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
102 connect(97, {sa_family=AF_INET6, sin6_port=htons(9092), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}, 28 <unfinished ...>
102 <... connect resumed>)            = 0
103 connect(20, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)
104 connect(20, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = -1 ENETUNREACH (Network is unreachable)
105 connect(19, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("192.0.2.1")}, 16 <unfinished ...>
106 connect(21, {sa_family=AF_INET, sin_port=htons(6379), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
107 connect(22, {sa_family=AF_INET6, sin6_port=htons(50051), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0
108 +++ exited with 0 +++
`;

describe('no-route: connect(2) trace', () => {
  it('reads every call once, with family, address, port or path', () => {
    const calls = parseConnectTrace(TRACE);
    expect(calls.map((c) => [c.pid, c.family, c.address ?? c.path, c.port])).toEqual([
      [101, 'AF_INET', '127.0.0.1', 5432],
      [102, 'AF_INET6', '::ffff:127.0.0.1', 9092],
      [103, 'AF_UNIX', '/var/run/nscd/socket', undefined],
      [104, 'AF_INET', '10.255.255.53', 53],
      [105, 'AF_INET', '192.0.2.1', 443],
      [106, 'AF_INET', '127.0.0.1', 6379],
      [107, 'AF_INET6', '::1', 50051],
    ]);
  });

  it('flags a call to outside (even one that failed), and a loopback port that is not the city’s', () => {
    const flagged = outOfCity(parseConnectTrace(TRACE), PORTS);
    expect(flagged.map((c) => `${c.address}:${c.port}`)).toEqual([
      '10.255.255.53:53',
      '192.0.2.1:443',
      '127.0.0.1:6379',
    ]);
  });

  it('knows loopback', () => {
    expect(['127.0.0.1', '127.0.0.53', '::1', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['10.0.0.1', '::ffff:10.0.0.1', '2001:db8::1', '0.0.0.0'].some(isLoopback)).toBe(false);
  });
});

// ss -tunapH, as seen in the namespace (the peer of an accepted socket is an ephemeral port).
const SS = `
tcp LISTEN    0      644             127.0.0.1:5432             0.0.0.0:*     users:(("postgres",pid=17617,fd=5))
tcp LISTEN    0      50     [::ffff:127.0.0.1]:9092                   *:*     users:(("java",pid=18517,fd=98))
tcp LISTEN    0      511             127.0.0.1:50051            0.0.0.0:*     users:(("node",pid=24757,fd=22))
tcp ESTAB     0      0               127.0.0.1:5432           127.0.0.1:39706 users:(("postgres",pid=25796,fd=7))
tcp ESTAB     0      0               127.0.0.1:39706          127.0.0.1:5432  users:(("node",pid=24757,fd=25))
tcp ESTAB     0      0      [::ffff:127.0.0.1]:49364 [::ffff:127.0.0.1]:9092  users:(("node",pid=24757,fd=30))
tcp TIME-WAIT 0      0               127.0.0.1:35386          127.0.0.1:8081
`;

describe('no-route: socket samples', () => {
  it('reads state, both ends and the processes', () => {
    const s = parseSockets(SS);
    expect(s).toHaveLength(7);
    expect(s[1]).toMatchObject({
      proto: 'tcp',
      state: 'LISTEN',
      local: { address: '::ffff:127.0.0.1', port: 9092 },
    });
    expect(s[1].peer).toEqual({ address: '*' });
    expect(s[4].processes).toEqual([{ name: 'node', pid: 24757 }]);
    expect(s[6].processes).toEqual([]);
  });

  it('accepts the city talking to itself', () => {
    expect(socketViolations(parseSockets(SS), PORTS)).toEqual([]);
  });

  it('flags a connection to another port, a non-loopback peer, a stray listener and any UDP socket', () => {
    const bad = [
      'tcp ESTAB 0 0 127.0.0.1:40000 127.0.0.1:6379 users:(("node",pid=1,fd=3))',
      'tcp SYN-SENT 0 1 10.0.0.2:40002 93.184.216.34:443 users:(("node",pid=1,fd=4))',
      'tcp LISTEN 0 511 0.0.0.0:9229 0.0.0.0:* users:(("node",pid=1,fd=5))',
      'udp UNCONN 0 0 0.0.0.0:41234 0.0.0.0:* users:(("node",pid=1,fd=6))',
    ];
    const flagged = socketViolations(parseSockets(`${SS}\n${bad.join('\n')}`), PORTS);
    expect(flagged.map((s) => s.line)).toEqual(bad);
  });
});

describe('no-route: log lines', () => {
  it('match a failed outbound attempt, not ordinary lines', () => {
    expect(OUTBOUND_FAILURE.test('Error: getaddrinfo EAI_AGAIN api.example.com')).toBe(true);
    expect(OUTBOUND_FAILURE.test('connect ENETUNREACH 192.0.2.1:443')).toBe(true);
    expect(OUTBOUND_FAILURE.test('{"level":"info","msg":"ready"}')).toBe(false);
  });
});

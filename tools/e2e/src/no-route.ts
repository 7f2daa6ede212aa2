/**
 * "Nothing leaves the city" (docs/no-route.md): reading what deploy/local/netns.sh observes of a
 * city run inside a network namespace with only loopback, and the rule every connection must keep.
 * - the connect(2) calls of every process of the city (strace, NETNS_TRACE): address and result,
 *   including attempts that failed because there is no route (they never become a socket);
 * - samples of every TCP/UDP socket in the namespace (ss -tunap) while the city runs.
 * The rule: an Internet-family connection goes to loopback, to one of the city's configured
 * endpoints (its servers' ports and the services' own); other families (AF_UNIX, netlink) stay
 * inside the machine by construction.
 */

export interface ConnectCall {
  pid: number;
  family: string;
  /** AF_INET/AF_INET6 only */
  address?: string;
  port?: number;
  /** AF_UNIX only */
  path?: string;
  line: string;
}

const CONNECT = /^(\d+)\s+connect\(\d+, \{sa_family=(\w+)(.*)$/;

/** The connect(2) calls of an strace log (`strace -f -e trace=connect`), one per call. */
export function parseConnectTrace(text: string): ConnectCall[] {
  const calls: ConnectCall[] = [];
  for (const line of text.split('\n')) {
    const m = CONNECT.exec(line);
    if (!m) continue; // "<... connect resumed>" lines, exits: the call was recorded when it started
    const [, pid, family, rest] = m;
    const call: ConnectCall = { pid: Number(pid), family, line };
    const port = /sin6?_port=htons\((\d+)\)/.exec(rest);
    if (port) call.port = Number(port[1]);
    const v4 = /sin_addr=inet_addr\("([^"]+)"\)/.exec(rest);
    const v6 = /inet_pton\(AF_INET6, "([^"]+)"/.exec(rest);
    if (v4) call.address = v4[1];
    if (v6) call.address = v6[1];
    const path = /sun_path=@?"([^"]*)"/.exec(rest);
    if (path) call.path = path[1];
    calls.push(call);
  }
  return calls;
}

export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  return a === '::1' || /^127\./.test(a) || /^::ffff:127\./.test(a);
}

/**
 * The calls that break the rule: an Internet-family connect to anything but loopback, or to a
 * loopback port that is not one of the city's; an Internet family without an address is one too.
 */
export function outOfCity(calls: ConnectCall[], allowedPorts: ReadonlySet<number>): ConnectCall[] {
  return calls.filter((c) => {
    if (c.family !== 'AF_INET' && c.family !== 'AF_INET6') return false;
    if (c.address === undefined || c.port === undefined) return true;
    return !isLoopback(c.address) || !allowedPorts.has(c.port);
  });
}

export interface Endpoint {
  address: string;
  /** undefined for "*" */
  port?: number;
}

export interface SocketSample {
  proto: string;
  state: string;
  local: Endpoint;
  peer: Endpoint;
  processes: { name: string; pid: number }[];
  line: string;
}

function endpoint(text: string): Endpoint {
  const i = text.lastIndexOf(':');
  const address = text
    .slice(0, i)
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '');
  const port = text.slice(i + 1);
  return port === '*' ? { address } : { address, port: Number(port) };
}

/** `ss -tunapH` output: one entry per socket. */
export function parseSockets(text: string): SocketSample[] {
  const sockets: SocketSample[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 6) continue;
    const [proto, state, , , local, peer, ...rest] = cols;
    const processes = [...rest.join(' ').matchAll(/\("([^"]*)",pid=(\d+)/g)].map((m) => ({
      name: m[1],
      pid: Number(m[2]),
    }));
    sockets.push({ proto, state, local: endpoint(local), peer: endpoint(peer), processes, line });
  }
  return sockets;
}

/**
 * The sockets that break the rule. A TCP listener listens on one of the city's ports; a connected
 * TCP socket has a loopback peer, and when it is not one accepted by a listener of the sample
 * (its local port is not listened on) its peer's port is one of the city's. No UDP socket at all:
 * nothing in the city speaks UDP (a resolver would).
 */
export function socketViolations(sockets: SocketSample[], allowedPorts: ReadonlySet<number>): SocketSample[] {
  const listening = new Set(
    sockets.filter((s) => s.proto === 'tcp' && s.state === 'LISTEN').map((s) => s.local.port),
  );
  return sockets.filter((s) => {
    if (s.proto !== 'tcp') return true;
    if (s.state === 'LISTEN') return s.local.port === undefined || !allowedPorts.has(s.local.port);
    if (!isLoopback(s.peer.address) || !isLoopback(s.local.address)) return true;
    if (listening.has(s.local.port)) return false; // accepted: the peer is a client inside
    return s.peer.port === undefined || !allowedPorts.has(s.peer.port);
  });
}

/** Log lines of a failed attempt to reach outside: no route, no resolver, no such name. */
export const OUTBOUND_FAILURE = /ENETUNREACH|EHOSTUNREACH|EAI_AGAIN|ENOTFOUND|getaddrinfo/;

// Administration commands of the identity service, run next to it with the same environment:
//
//   node services/identity/dist/admin.js init-city [--name "City admin"]
//
// init-city prepares a new city's identity database (migrations, signing keys) and creates the
// first admin client: every scope, the whole city. It prints ONE line of JSON to stdout,
// {"client_id": "...", "client_secret": "..."}, and exits 0. The secret is shown only this once.
// If an active bootstrap admin already exists it exits 1 without creating anything.
import { join } from 'path';
import { ConfigError, createPool, loadConfig, platformMigrations, runMigrations } from '@citybase/platform';
import { BootstrapAdminExists, createBootstrapAdmin } from './clients/bootstrap';
import { ClientSecretHasher } from './clients/client-secret';
import { SigningKeyWrap } from './clients/keys/key-wrap';
import { identityConfig } from './config';

const USAGE = 'usage: admin.js init-city [--name "City admin"]';

function parseArgs(argv: string[]): { command: string; name: string } {
  const [command = '', ...rest] = argv;
  let name = 'City admin';
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? '';
    if (arg === '--name' && i + 1 < rest.length) name = rest[++i] ?? '';
    else if (arg.startsWith('--name=')) name = arg.slice('--name='.length);
    else throw new UsageError(`unknown argument ${arg}`);
  }
  name = name.trim();
  if (name.length < 1 || name.length > 200) throw new UsageError('--name must be 1-200 characters');
  return { command, name };
}

class UsageError extends Error {}

async function initCity(name: string): Promise<void> {
  const config = loadConfig(identityConfig, process.env);
  const pool = createPool(config.DATABASE_URL, { max: 2, application_name: 'citybase-identity-admin' });
  try {
    // exactly what the service applies at start (main.ts)
    await runMigrations(pool, [
      platformMigrations,
      { namespace: 'identity', dir: join(__dirname, '..', 'migrations') },
    ]);
    const masterKey = Buffer.from(config.IDENTITY_MASTER_KEY, 'base64');
    const admin = await createBootstrapAdmin(pool, {
      name,
      wrap: new SigningKeyWrap(masterKey),
      secrets: new ClientSecretHasher(masterKey),
      events: { city: config.CITY_ID, service: 'identity', topicPrefix: config.KAFKA_TOPIC_PREFIX },
    });
    process.stdout.write(
      `${JSON.stringify({ client_id: admin.clientId, client_secret: admin.clientSecret })}\n`,
    );
  } finally {
    await pool.end();
  }
}

async function main(argv: string[]): Promise<number> {
  try {
    const { command, name } = parseArgs(argv);
    if (command !== 'init-city') throw new UsageError(command ? `unknown command ${command}` : 'no command');
    await initCity(name);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`admin.js: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof BootstrapAdminExists) {
      process.stderr.write(`admin.js: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`admin.js: init-city failed: ${(err as Error).message}\n`);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

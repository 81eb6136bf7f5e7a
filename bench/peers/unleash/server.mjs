// Starts Unleash's open-source server (installed by `npm ci` here) for bench/peers/unleash_http.py.
// Configuration comes from the environment the bench sets (DATABASE_URL, HTTP_PORT, INIT_*_API_TOKENS,
// the rate limits); this file only adds what has no variable: no request logging, warnings only.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const unleash = require('unleash-server');

await unleash.start({
    db: { connectionString: process.env.DATABASE_URL, ssl: false },
    server: { host: process.env.HTTP_HOST ?? '127.0.0.1', port: Number(process.env.HTTP_PORT) },
    logLevel: 'warn',
});

// The lookup benchmark's peer: PostGraphile v4 (library mode) serving schema `peer`
// (bench/peer/peer.sql) over row-level security. Started and stopped by bench/lookup.py --peer.
//
// Environment:
//   PEER_DATABASE_URL  the bench database (connects as its owner; every request runs as the
//                      role named in the token, or peer_anonymous without one)
//   PEER_PORT          port on 127.0.0.1
//   PEER_JWT_SECRET    HS256 secret of the tokens (audience "postgraphile")
//   PEER_WORKERS       node processes (node:cluster, one port), default 1
//   PEER_POOL_SIZE     pg pool size per process, default 10 (the platform's default pool)
'use strict';

const cluster = require('node:cluster');
const http = require('node:http');
const { postgraphile } = require('postgraphile');
const { Pool } = require('pg');

const workers = Math.max(1, parseInt(process.env.PEER_WORKERS || '1', 10));
const port = parseInt(process.env.PEER_PORT || '0', 10);

function serve() {
  const pgPool = new Pool({
    connectionString: process.env.PEER_DATABASE_URL,
    max: parseInt(process.env.PEER_POOL_SIZE || '10', 10),
  });
  pgPool.on('error', (e) => console.error('pg pool error:', e.message));
  const middleware = postgraphile(pgPool, 'peer', {
    jwtSecret: process.env.PEER_JWT_SECRET,
    jwtVerifyOptions: { audience: 'postgraphile', algorithms: ['HS256'] },
    pgDefaultRole: 'peer_anonymous',
    dynamicJson: true,
    setofFunctionsContainNulls: false,
    ignoreRBAC: false,
    disableDefaultMutations: true,
    disableQueryLog: true,
    graphiql: false,
    enhanceGraphiql: false,
    watchPg: false,
    retryOnInitFail: false,
    legacyRelations: 'omit',
    simpleCollections: 'only',
    extendedErrors: ['errcode'],
  });
  http.createServer(middleware).listen(port, '127.0.0.1');
}

if (workers > 1 && cluster.isPrimary) {
  // The workers share the listening socket (the primary hands out connections round-robin).
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    console.error(`peer worker ${worker.process.pid} exited (${signal || code})`);
    process.exit(1);
  });
  const stop = () => {
    for (const id in cluster.workers) cluster.workers[id].process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  serve();
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}

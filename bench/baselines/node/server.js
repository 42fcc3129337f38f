'use strict';
// Baseline: the tutorial's ListUser served by Node's @grpc/grpc-js (pure
// JavaScript, no gRPC C core), loading user.proto at run time the way grpc-js
// users usually do.
//   node server.js HOST PORT     (after `npm ci` here)
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

// How long SIGTERM waits for calls in flight before closing connections. A
// benchmark's calls are over when it stops the server: keep the wait short.
const DRAIN_MS = 1000;

const [host, port] = process.argv.slice(2);
if (host === undefined || port === undefined) {
  console.error('usage: node server.js HOST PORT');
  process.exit(2);
}

// google/protobuf/*.proto need no include dir: protobufjs bundles them.
const definition = protoLoader.loadSync('user.proto', {
  includeDirs: [path.join(__dirname, '..', '..', '..', 'protos')],
  keepCase: true,
  defaults: true, // else an unset id (0 on the wire) reads undefined, not 0
});
const { Users } = grpc.loadPackageDefinition(definition).user;

function listUser(call, callback) {
  const { id, name } = call.request;
  if (id === 0) {
    callback({ code: grpc.status.NOT_FOUND, details: 'Sorry, id is not allowed 0' });
    return;
  }
  callback(null, { details: [{ id, value: name }] });
}

const server = new grpc.Server();
server.addService(Users.service, { ListUser: listUser });
server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
  if (err) {
    console.error(`cannot listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  }
  // console.log to a pipe is asynchronous in Node; write synchronously so the
  // line is out before anything else happens.
  require('fs').writeSync(1, `Server started, listening on ${bound}\n`);
});

function stop() {
  // tryShutdown waits until every client has closed its connection, which a
  // load generator's (or a test's) open channel may never do: bound it.
  const timer = setTimeout(() => { server.forceShutdown(); process.exit(0); }, DRAIN_MS);
  server.tryShutdown(() => { clearTimeout(timer); process.exit(0); });
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

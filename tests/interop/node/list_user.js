'use strict';
// The tutorial's ListUser call made by an independent gRPC stack: grpc-js is
// pure JavaScript (no gRPC C core) and reads user.proto at run time, so it
// checks our server against the contract, not against our own generated code.
//   node list_user.js [TARGET] [ID]
// Prints the reply as JSON, or `CODE_NAME: details` on stderr and exits 1.
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const DEADLINE_MS = 10000;
const [target = 'localhost:50051', idArg = '2'] = process.argv.slice(2);
const id = Number(idArg);
if (!Number.isInteger(id)) {
  console.error(`usage: node list_user.js [TARGET] [ID]; bad id ${idArg}`);
  process.exit(2);
}

// google/protobuf/*.proto need no include dir: protobufjs bundles them.
const definition = protoLoader.loadSync('user.proto', {
  includeDirs: [path.join(__dirname, '..', '..', '..', 'protos')],
  keepCase: true,
  defaults: true, // so an empty reply prints {"details":[]}, not {}
});
const { Users } = grpc.loadPackageDefinition(definition).user;
const client = new Users(target, grpc.credentials.createInsecure());

client.ListUser({ id, name: 'twtrubiks' },
  { deadline: Date.now() + DEADLINE_MS }, (err, response) => {
    client.close();
    if (err) {
      console.error(`${grpc.status[err.code]}: ${err.details}`);
      process.exitCode = 1;
      return;
    }
    console.log(JSON.stringify(response));
  });

#!/usr/bin/env node
// grpc.testing.TestService served by Node's @grpc/grpc-js, for grpcactor's
// system tests.
//
// The service and messages come from test.proto beside this file, loaded at
// run time with @grpc/proto-loader. Behaviour follows grpc-go's interop test
// server (google.golang.org/grpc/interop, testServer):
//
//   EmptyCall            -> Empty
//   UnaryCall            -> payload of response_size zero bytes; response_status
//                           (code != 0) ends the call with that code and
//                           message; echoes x-grpc-test-echo-initial (initial
//                           metadata) and x-grpc-test-echo-trailing-bin
//                           (trailing metadata)
//   StreamingOutputCall  -> one response per response_parameters entry, after
//                           interval_us
//   StreamingInputCall   -> aggregated_payload_size of all request payloads
//   FullDuplexCall       -> per request: response_status, then one response per
//                           response_parameters entry; echoes metadata as
//                           UnaryCall
//
// Needs @grpc/grpc-js and @grpc/proto-loader: `cd system_test/node && npm
// install`. They are found through NODE_PATH (the test helper sets it) or in
// ../../node/node_modules relative to this file.
//
// Usage: node node_server.js [--host 127.0.0.1] [--port 0] [--tls-cert PEM --tls-key PEM]
// With --tls-cert and --tls-key it serves over TLS with that certificate
// chain and private key (PEM files), else in plaintext.
// Prints "LISTENING <port>" as its first line on stdout once it serves. With
// GRPCACTOR_PEER_EXIT_ON_STDIN_EOF=1 in the environment it exits when its
// stdin closes (the test helper sets it, so the server never outlives the
// test).
'use strict';

const path = require('path');

function load(name) {
  try {
    return require(name);
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err;
    return require(path.join(__dirname, '..', '..', 'node', 'node_modules', name));
  }
}

const grpc = load('@grpc/grpc-js');
const protoLoader = load('@grpc/proto-loader');

const INITIAL_KEY = 'x-grpc-test-echo-initial';
const TRAILING_KEY = 'x-grpc-test-echo-trailing-bin';
const MAX_MESSAGE = 64 * 1024 * 1024;

const definition = protoLoader.loadSync(path.join(__dirname, 'test.proto'), {
  keepCase: true,
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
});
const testing = grpc.loadPackageDefinition(definition).grpc.testing;

function statusError(code, message, trailer) {
  const err = new Error(message);
  err.code = code;
  err.details = message;
  if (trailer) err.metadata = trailer;
  return err;
}

// newPayload mirrors grpc-go's serverNewPayload; it throws a status error.
function newPayload(responseType, size) {
  if (size < 0) {
    throw statusError(grpc.status.UNKNOWN, `requested a response with invalid length ${size}`);
  }
  if (responseType !== 0) {
    throw statusError(grpc.status.UNKNOWN, `unsupported payload type: ${responseType}`);
  }
  return { type: 0, body: Buffer.alloc(size) };
}

// echoMetadata sends the echoed initial metadata and returns the trailer to
// send at the end of the call (or undefined).
function echoMetadata(call) {
  const initial = call.metadata.get(INITIAL_KEY);
  if (initial.length > 0) {
    const md = new grpc.Metadata();
    md.set(INITIAL_KEY, initial[0]);
    call.sendMetadata(md);
  }
  const trailing = call.metadata.get(TRAILING_KEY);
  if (trailing.length > 0) {
    const md = new grpc.Metadata();
    md.set(TRAILING_KEY, trailing[0]);
    return md;
  }
  return undefined;
}

function failed(status) {
  return status && status.code !== 0;
}

const sleep = (us) => new Promise((resolve) => setTimeout(resolve, us / 1000));

// writeAll writes one response per response_parameters entry, honouring
// interval_us and the stream's backpressure.
async function writeAll(call, request) {
  for (const params of request.response_parameters) {
    if (call.cancelled) return;
    if (params.interval_us > 0) await sleep(params.interval_us);
    const payload = newPayload(request.response_type, params.size);
    if (!call.write({ payload })) {
      await new Promise((resolve) => call.once('drain', resolve));
    }
  }
}

function asStatus(err) {
  if (typeof err.code === 'number') return err;
  return statusError(grpc.status.UNKNOWN, String(err && err.message ? err.message : err));
}

const service = {
  EmptyCall(call, callback) {
    callback(null, {});
  },

  UnaryCall(call, callback) {
    const trailer = echoMetadata(call);
    const req = call.request;
    if (failed(req.response_status)) {
      callback(statusError(req.response_status.code, req.response_status.message), null, trailer);
      return;
    }
    let payload;
    try {
      payload = newPayload(req.response_type, req.response_size);
    } catch (err) {
      callback(asStatus(err), null, trailer);
      return;
    }
    callback(null, { payload }, trailer);
  },

  StreamingOutputCall(call) {
    writeAll(call, call.request).then(
      () => call.end(),
      (err) => call.emit('error', asStatus(err)),
    );
  },

  StreamingInputCall(call, callback) {
    let total = 0;
    call.on('data', (req) => {
      total += req.payload ? req.payload.body.length : 0;
    });
    call.on('end', () => callback(null, { aggregated_payload_size: total }));
    call.on('error', () => {});
  },

  FullDuplexCall(call) {
    const trailer = echoMetadata(call);
    // Requests are handled strictly in order: each waits for the previous
    // one's responses (and their intervals) to be written.
    let chain = Promise.resolve();
    let finished = false;
    const fail = (err) => {
      if (finished) return;
      finished = true;
      const st = asStatus(err);
      if (trailer) st.metadata = trailer;
      call.emit('error', st);
    };
    call.on('data', (req) => {
      chain = chain.then(async () => {
        if (finished) return;
        if (failed(req.response_status)) {
          throw statusError(req.response_status.code, req.response_status.message);
        }
        await writeAll(call, req);
      }).catch(fail);
    });
    call.on('end', () => {
      chain = chain.then(() => {
        if (finished) return;
        finished = true;
        call.end(trailer);
      });
    });
    call.on('error', () => {});
  },
};

function main() {
  const args = process.argv.slice(2);
  let host = '127.0.0.1';
  let port = 0;
  let tlsCert = '';
  let tlsKey = '';
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--host') host = args[++i];
    else if (args[i] === '--port') port = Number(args[++i]);
    else if (args[i] === '--tls-cert') tlsCert = args[++i];
    else if (args[i] === '--tls-key') tlsKey = args[++i];
    else {
      process.stderr.write(`node_server.js: unknown argument ${args[i]}\n`);
      process.exit(2);
    }
  }

  if (Boolean(tlsCert) !== Boolean(tlsKey)) {
    process.stderr.write('node_server.js: --tls-cert and --tls-key go together\n');
    process.exit(2);
  }
  const fs = require('fs');
  const creds = tlsCert
    ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: fs.readFileSync(tlsCert), private_key: fs.readFileSync(tlsKey) }], false)
    : grpc.ServerCredentials.createInsecure();

  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE,
    'grpc.max_send_message_length': MAX_MESSAGE,
  });
  server.addService(testing.TestService.service, service);
  server.bindAsync(`${host}:${port}`, creds, (err, bound) => {
    if (err) {
      process.stderr.write(`node_server.js: cannot bind ${host}:${port}: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`LISTENING ${bound}\n`);
  });

  const stop = () => {
    server.forceShutdown();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (process.env.GRPCACTOR_PEER_EXIT_ON_STDIN_EOF === '1') {
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
  }
}

main();

#!/usr/bin/python3
"""grpc.testing.TestService served by Python's grpcio, for grpcactor's system tests.

No generated stubs: the protobuf messages are built at run time from a
FileDescriptorProto (field numbers as in gRPC's interop messages.proto), and
the service is a generic handler. Behaviour follows grpc-go's interop test
server (google.golang.org/grpc/interop, testServer):

  EmptyCall            -> Empty
  UnaryCall            -> payload of response_size zero bytes; response_status
                          (code != 0) ends the call with that code and message;
                          echoes x-grpc-test-echo-initial (initial metadata) and
                          x-grpc-test-echo-trailing-bin (trailing metadata)
  StreamingOutputCall  -> one response per response_parameters entry, after
                          interval_us
  StreamingInputCall   -> aggregated_payload_size of all request payloads
  FullDuplexCall       -> per request: response_status, then one response per
                          response_parameters entry; echoes metadata as UnaryCall

Needs Debian's python3-grpcio and python3-protobuf (run with /usr/bin/python3).

Usage: python_server.py [--host 127.0.0.1] [--port 0] [--tls-cert PEM --tls-key PEM]
With --tls-cert and --tls-key it serves over TLS with that certificate chain
and private key (PEM files), else in plaintext.
Prints "LISTENING <port>" as its first line on stdout once it serves. With
GRPCACTOR_PEER_EXIT_ON_STDIN_EOF=1 in the environment it exits when its stdin
closes (the test helper sets it, so the server never outlives the test).
"""

import argparse
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SERVICE = "grpc.testing.TestService"
INITIAL_KEY = "x-grpc-test-echo-initial"
TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
MAX_MESSAGE = 64 * 1024 * 1024

_F = descriptor_pb2.FieldDescriptorProto


def _build_messages():
    """Builds the interop messages at run time and returns their classes by name."""
    fdp = descriptor_pb2.FileDescriptorProto(
        name="grpcactor/peers/python_test.proto",
        package="grpc.testing",
        syntax="proto3",
    )
    enum = fdp.enum_type.add(name="PayloadType")
    enum.value.add(name="COMPRESSABLE", number=0)

    def message(name, *fields):
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, type_name, label in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = ".grpc.testing." + type_name

    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    message("Empty")
    message(
        "Payload",
        ("type", 1, _F.TYPE_ENUM, "PayloadType", opt),
        ("body", 2, _F.TYPE_BYTES, None, opt),
    )
    message(
        "EchoStatus",
        ("code", 1, _F.TYPE_INT32, None, opt),
        ("message", 2, _F.TYPE_STRING, None, opt),
    )
    message(
        "SimpleRequest",
        ("response_type", 1, _F.TYPE_ENUM, "PayloadType", opt),
        ("response_size", 2, _F.TYPE_INT32, None, opt),
        ("payload", 3, _F.TYPE_MESSAGE, "Payload", opt),
        ("response_status", 7, _F.TYPE_MESSAGE, "EchoStatus", opt),
    )
    message("SimpleResponse", ("payload", 1, _F.TYPE_MESSAGE, "Payload", opt))
    message("StreamingInputCallRequest", ("payload", 1, _F.TYPE_MESSAGE, "Payload", opt))
    message(
        "StreamingInputCallResponse",
        ("aggregated_payload_size", 1, _F.TYPE_INT32, None, opt),
    )
    message(
        "ResponseParameters",
        ("size", 1, _F.TYPE_INT32, None, opt),
        ("interval_us", 2, _F.TYPE_INT32, None, opt),
    )
    message(
        "StreamingOutputCallRequest",
        ("response_type", 1, _F.TYPE_ENUM, "PayloadType", opt),
        ("response_parameters", 2, _F.TYPE_MESSAGE, "ResponseParameters", rep),
        ("payload", 3, _F.TYPE_MESSAGE, "Payload", opt),
        ("response_status", 7, _F.TYPE_MESSAGE, "EchoStatus", opt),
    )
    message("StreamingOutputCallResponse", ("payload", 1, _F.TYPE_MESSAGE, "Payload", opt))

    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(fdp.SerializeToString())
    get_class = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.22
    factory = None if get_class else message_factory.MessageFactory(pool)
    classes = {}
    for m in fdp.message_type:
        desc = pool.FindMessageTypeByName("grpc.testing." + m.name)
        classes[m.name] = get_class(desc) if get_class else factory.GetPrototype(desc)
    return classes


M = _build_messages()
_CODES = {c.value[0]: c for c in grpc.StatusCode}


def _abort(context, code, message):
    context.abort(_CODES.get(code, grpc.StatusCode.UNKNOWN), message)


def _payload(context, response_type, size):
    """Like grpc-go's serverNewPayload: size zero bytes of the COMPRESSABLE type."""
    if size < 0:
        _abort(context, 2, "requested a response with invalid length %d" % size)
    if response_type != 0:
        _abort(context, 2, "unsupported payload type: %d" % response_type)
    return M["Payload"](type=0, body=bytes(size))


def _echo_metadata(context):
    md = {}
    for key, value in context.invocation_metadata():
        md.setdefault(key, value)  # the first value, as grpc-go's server echoes
    if INITIAL_KEY in md:
        context.send_initial_metadata(((INITIAL_KEY, md[INITIAL_KEY]),))
    if TRAILING_KEY in md:
        context.set_trailing_metadata(((TRAILING_KEY, md[TRAILING_KEY]),))


def empty_call(request, context):
    return M["Empty"]()


def unary_call(request, context):
    _echo_metadata(context)
    if request.HasField("response_status") and request.response_status.code != 0:
        _abort(context, request.response_status.code, request.response_status.message)
    payload = _payload(context, request.response_type, request.response_size)
    return M["SimpleResponse"](payload=payload)


def _responses(request, context):
    for params in request.response_parameters:
        if params.interval_us > 0:
            time.sleep(params.interval_us / 1e6)
        payload = _payload(context, request.response_type, params.size)
        yield M["StreamingOutputCallResponse"](payload=payload)


def streaming_output_call(request, context):
    yield from _responses(request, context)


def streaming_input_call(request_iterator, context):
    total = 0
    for request in request_iterator:
        total += len(request.payload.body)
    return M["StreamingInputCallResponse"](aggregated_payload_size=total)


def full_duplex_call(request_iterator, context):
    _echo_metadata(context)
    for request in request_iterator:
        if request.HasField("response_status") and request.response_status.code != 0:
            _abort(context, request.response_status.code, request.response_status.message)
        yield from _responses(request, context)


def _handler():
    def ser(name):
        return M[name].SerializeToString

    def de(name):
        return M[name].FromString

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "EmptyCall": grpc.unary_unary_rpc_method_handler(
                empty_call, request_deserializer=de("Empty"), response_serializer=ser("Empty")
            ),
            "UnaryCall": grpc.unary_unary_rpc_method_handler(
                unary_call,
                request_deserializer=de("SimpleRequest"),
                response_serializer=ser("SimpleResponse"),
            ),
            "StreamingOutputCall": grpc.unary_stream_rpc_method_handler(
                streaming_output_call,
                request_deserializer=de("StreamingOutputCallRequest"),
                response_serializer=ser("StreamingOutputCallResponse"),
            ),
            "StreamingInputCall": grpc.stream_unary_rpc_method_handler(
                streaming_input_call,
                request_deserializer=de("StreamingInputCallRequest"),
                response_serializer=ser("StreamingInputCallResponse"),
            ),
            "FullDuplexCall": grpc.stream_stream_rpc_method_handler(
                full_duplex_call,
                request_deserializer=de("StreamingOutputCallRequest"),
                response_serializer=ser("StreamingOutputCallResponse"),
            ),
        },
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--tls-cert", help="serve TLS with this PEM certificate chain")
    parser.add_argument("--tls-key", help="and this PEM private key")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        sys.exit("python_server.py: --tls-cert and --tls-key go together")

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.workers),
        handlers=(_handler(),),
        options=(
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
        ),
    )
    address = "%s:%d" % (args.host, args.port)
    if args.tls_cert:
        with open(args.tls_key, "rb") as f:
            key = f.read()
        with open(args.tls_cert, "rb") as f:
            chain = f.read()
        port = server.add_secure_port(address, grpc.ssl_server_credentials([(key, chain)]))
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        sys.exit("python_server.py: cannot bind %s:%d" % (args.host, args.port))
    server.start()

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    if os.environ.get("GRPCACTOR_PEER_EXIT_ON_STDIN_EOF") == "1":

        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            done.set()

        threading.Thread(target=watch_stdin, daemon=True).start()

    print("LISTENING %d" % port, flush=True)
    while not done.wait(1.0):
        pass
    server.stop(0)


if __name__ == "__main__":
    main()

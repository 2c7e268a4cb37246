"""A small FastCGI client (the wire protocol, stdlib only) for tests that talk
to replugd without a front server, or send what no front server would."""

import socket
import struct

VERSION = 1
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7
RESPONDER = 1
KEEP_CONN = 1


def record(kind, request_id, content=b""):
    padding = (8 - len(content) % 8) % 8
    return struct.pack("!BBHHBx", VERSION, kind, request_id, len(content), padding) + content + b"\0" * padding


def name_value(name, value):
    def length(n):
        return struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 0x80000000)
    return length(len(name)) + length(len(value)) + name + value


def encode_params(params, request_id=1):
    blob = b"".join(name_value(k.encode(), v.encode() if isinstance(v, str) else v) for k, v in params.items())
    out = b""
    for start in range(0, len(blob), 65535):
        out += record(PARAMS, request_id, blob[start:start + 65535])
    return out + record(PARAMS, request_id)


def encode_request(params, body=b"", keep=False, request_id=1):
    out = record(BEGIN_REQUEST, request_id, struct.pack("!HB5x", RESPONDER, KEEP_CONN if keep else 0))
    out += encode_params(params, request_id)
    for start in range(0, len(body), 65535):
        out += record(STDIN, request_id, body[start:start + 65535])
    return out + record(STDIN, request_id)


class Response:
    def __init__(self, status, headers, body, stderr):
        self.status, self.headers, self.body, self.stderr = status, headers, body, stderr

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


def parse_stdout(data):
    head, _, body = data.partition(b"\r\n\r\n")
    headers = {}
    status = 200
    for line in head.split(b"\r\n"):
        if b":" not in line:
            continue
        name, _, value = line.partition(b":")
        name, value = name.decode().strip(), value.decode().strip()
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            headers[name.lower()] = value
    return status, headers, body


def connect(address, timeout=10):
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Blocking while it connects: a non-blocking connect to a unix socket whose
        # backlog is full fails at once (EAGAIN) instead of waiting for the accept.
        sock.connect(address[5:])
        sock.settimeout(timeout)
    else:
        host, _, port = address.rpartition(":")
        sock = socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout)
    return sock


def read_response(sock):
    """Reads records until END_REQUEST; None when the server closed first."""
    out, err, buf = b"", b"", b""
    while True:
        while len(buf) < 8:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            buf += chunk
        _, kind, _, length, padding = struct.unpack("!BBHHBx", buf[:8])
        while len(buf) < 8 + length + padding:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            buf += chunk
        content, buf = buf[8:8 + length], buf[8 + length + padding:]
        if kind == STDOUT:
            out += content
        elif kind == STDERR:
            err += content
        elif kind == END_REQUEST:
            status, headers, body = parse_stdout(out)
            return Response(status, headers, body, err)


def cgi_params(path, method="GET", query="", headers=None, body=b"", **extra):
    params = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": path,
        "DOCUMENT_URI": path,
        "REQUEST_URI": path + ("?" + query if query else ""),
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)) if body else "",
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        params[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
    params.update(extra)
    return params


def request(address, path, method="GET", query="", headers=None, body=b"", timeout=10, **extra):
    """One request on a fresh connection."""
    with connect(address, timeout) as sock:
        sock.sendall(encode_request(cgi_params(path, method, query, headers, body, **extra), body))
        return read_response(sock)

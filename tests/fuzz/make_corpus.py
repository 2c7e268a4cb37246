#!/usr/bin/env python3
"""Writes the fuzzer's seed corpus into tests/fuzz/corpus: valid requests,
and the shapes that break parsers (huge lengths, truncated records,
name-value length overflow, aborts, unknown and management records)."""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import fcgi_client as f  # noqa: E402

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(out, exist_ok=True)
token = "fuzz-token-0123456789abcdef"
get = f.encode_request(f.cgi_params("/echo/a", query="x=1", headers={"X-Test": "v"}))
post = f.encode_request(f.cgi_params("/echo/b", method="POST", body=b"hello", headers={"Content-Type": "text/plain"}),
                        b"hello")
# The forms module echoes the arguments, uploads and cookies named (hex) in these headers.
names = {"X-Args": "61 62", "X-Files": "66", "X-Cookies": "73"}
form_body = b"a=1&b=%C3%BC+x&a=2"
form_post = f.encode_request(f.cgi_params("/forms", method="POST", query="a=0", body=form_body,
                                          headers={"Content-Type": "application/x-www-form-urlencoded",
                                                   "Cookie": "s=1; t=\"q\"", **names}), form_body)
multipart_body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
                  b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"c.png\"\r\n"
                  b"Content-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ--\r\n")
multipart_post = f.encode_request(f.cgi_params("/forms", method="POST", body=multipart_body,
                                               headers={"Content-Type": "multipart/form-data; boundary=XyZ",
                                                        **names}), multipart_body)
seeds = {
    "get": get,
    "post": post,
    "keep_two": f.encode_request(f.cgi_params("/echo/1"), keep=True) + f.encode_request(f.cgi_params("/echo/2")),
    "admin_status": f.encode_request(f.cgi_params("/-/status", headers={"Authorization": "Bearer " + token})),
    "admin_reload": f.encode_request(f.cgi_params("/-/reload", method="POST", query="route=/echo/*",
                                                  headers={"Authorization": "Bearer " + token})),
    "admin_bad_token": f.encode_request(f.cgi_params("/-/status", headers={"Authorization": "Bearer x"})),
    "status_code": f.encode_request(f.cgi_params("/status", query="404")),
    "lighttpd_split": f.encode_request(f.cgi_params("/echo", PATH_INFO="/x/y", DOCUMENT_URI="")),
    "dot_segments": f.encode_request(f.cgi_params("/echo/../x")),
    "huge_length": get[:16] + struct.pack("!BBHHBx", 1, f.PARAMS, 1, 65535, 255) + b"x" * 100,
    "truncated_record": get[: len(get) // 2],
    "nv_length_overflow": f.record(f.BEGIN_REQUEST, 1, struct.pack("!HB5x", 1, 0))
    + f.record(f.PARAMS, 1, struct.pack("!II", 0xFFFFFFFF, 0xFFFFFFFF) + b"AB"),
    "abort": f.record(f.BEGIN_REQUEST, 1, struct.pack("!HB5x", 1, 0)) + f.record(f.ABORT_REQUEST, 1),
    "unknown_type": f.record(42, 1, b"??") + get,
    "get_values": f.record(9, 0, f.name_value(b"FCGI_MAX_CONNS", b"") + f.name_value(b"FCGI_MPXS_CONNS", b"")),
    "wrong_version": b"\x02" + get[1:],
    "other_role": f.record(f.BEGIN_REQUEST, 1, struct.pack("!HB5x", 2, 0)) + get[16:],
    "stdin_before_params_end": get[:16] + f.record(f.STDIN, 1, b"early") + get[16:],
    "form_post": form_post,
    "multipart_post": multipart_post,
    "swallows_bad_escape": f.encode_request(f.cgi_params("/swallows", query="x=%zz")),
    "refuses": f.encode_request(f.cgi_params("/refuses")),
    "too_large": f.encode_request(f.cgi_params("/forms", method="POST", body=b"x" * 5000,
                                               headers={"Content-Type": "application/x-www-form-urlencoded"}),
                                  b"x" * 5000),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as fh:
        fh.write(data)
print(f"{len(seeds)} seeds in {out}")

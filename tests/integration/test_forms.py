"""Arguments, forms, uploads and cookies as a handler gets them (req.arg,
req.args, req.file, req.cookie), through a real nginx: sent by curl, and
compared byte for byte with Python's own decoding (urllib.parse.parse_qsl,
the email package's multipart parsing) on a corpus; and hostile requests
(bad escapes, truncated or mis-bounded multipart, bodies over --max-body,
odd cookies) answered 400 or 413 with the reason logged, while the server
keeps serving."""

import email.parser
import email.policy
import os
import subprocess
import unittest
import urllib.parse

import fcgi_client
import harness
from harness import HTTP, test_module

MAX_BODY = 64 * 1024


def hexed(data):
    """The forms module's spelling of bytes: hex, or "-" when empty."""
    return data.hex() if data else "-"


def names_header(names):
    return " ".join(hexed(name) for name in names)


def expected_args(pairs):
    """The forms module's lines for PAIRS of (name, value) bytes, names in first-seen order."""
    order = []
    for name, _ in pairs:
        if name not in order:
            order.append(name)
    lines = []
    for name in order:
        values = [value for n, value in pairs if n == name]
        lines.append(f"arg {hexed(name)} {len(values)}")
        lines += [f"value {hexed(value)}" for value in values]
    return order, lines


def python_multipart(content_type, body):
    """(fields, files) as Python's email package reads a multipart/form-data body."""
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(
        b"Content-Type: " + content_type + b"\r\n\r\n" + body)
    fields, files = [], []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition").encode("utf-8", "surrogateescape")
        data = part.get_payload(decode=True)
        filename = part.get_filename()
        if filename is None:
            fields.append((name, data))
        else:
            # As sent (str() of the parsed header would re-quote its parameters).
            raw_type = next((value for key, value in part.raw_items() if key.lower() == "content-type"), "")
            files.append((name, filename.encode("utf-8", "surrogateescape"),
                          raw_type.strip().encode("utf-8", "surrogateescape"), data))
    return fields, files


def part(headers, data, boundary=b"XyZ"):
    return b"--" + boundary + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + data + b"\r\n"


def field(name, value, boundary=b"XyZ"):
    return part([b'Content-Disposition: form-data; name="' + name + b'"'], value, boundary)


# Query strings, and x-www-form-urlencoded bodies, that both decoders must read alike.
FORM_CORPUS = [
    b"a=1&b=2&a=3",
    b"first+name=J%C3%BCrgen+M%c3%bcller&city=K%C3%B6ln",
    b"%26=%3D%25&x=a%2Bb&plus=+",
    b"&a=&&b&c==d&",
    b"=v&empty=",
    b"n=%00%01%7f%80%ff%FE",
    b"semi=a;b&slash=%2F%2f",
    b"sp=a%20b+c&tilde=~&star=*&bang=!",
    b"",
]
# Bodies only: raw bytes that cannot go into a request line.
BODY_CORPUS = [
    b"raw=\x00\x01\xff&utf8=\xc3\xbc&space=a b",
    b"multi=line\r\nvalue&tab=\t",
]


def multipart_corpus():
    everything = bytes(range(256))
    return [
        # (content type, body)
        (b"multipart/form-data; boundary=XyZ", field(b"title", b"Hello") + field(b"title", b"") + b"--XyZ--\r\n"),
        (b"multipart/form-data; boundary=XyZ",
         part([b'Content-Disposition: form-data; name="photo"; filename="cat.png"', b"Content-Type: image/png"],
              b"\x89PNG\r\n\x1a\n" + everything + b"\r\n--XyZx\r\n--XyZ-") +
         field(b"caption", b"a cat") + b"--XyZ--"),
        (b'multipart/form-data; boundary="----WebKit Form:Boundary"',
         b"preamble\r\n" + field(b"a", b"1", b"----WebKit Form:Boundary") +
         part([b'Content-Disposition: form-data; name="f"; filename=""',
               b"Content-Type: application/octet-stream"], b"", b"----WebKit Form:Boundary") +
         b"------WebKit Form:Boundary--\r\nepilogue"),
        (b"multipart/form-data; charset=utf-8; boundary=b",
         part([b'content-disposition: form-data; name="doc"; filename="r\xc3\xa9sum\xc3\xa9.txt"',
               b"content-type: text/plain; charset=utf-8"], b"line 1\r\nline 2\n\rline 3", b"b") +
         part([b'Content-Disposition: form-data; name="q"; filename="say \\"hi\\".txt"'], b"\r\n", b"b") +
         field(b"\xc3\xbc", b"\xff\x00", b"b") + b"--b--\r\n"),
        (b"multipart/form-data; boundary=XyZ", b"--XyZ--\r\n"),
    ]


class Forms(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.module(test_module("forms"), "forms")
        self.module(test_module("echo"), "echo")
        self.server = self.replugd(["--module-path", self.modules, "--listen-group", "www-data",
                                    "--max-body", "64K",
                                    "--route", "/forms=forms", "--route", "/refuses=forms:refuses",
                                    "--route", "/swallows=forms:swallows", "--route", "/length=forms:body_length",
                                    "--route", "/echo/*=echo"])
        self.front = self.nginx(self.server.address)
        self.url = f"http://127.0.0.1:{self.front.port}"

    def http(self):
        client = HTTP(self.front.port)
        self.addCleanup(client.close)
        return client

    def curl(self, *args):
        """curl ARGS against the front server: (status, body)."""
        done = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *args], capture_output=True,
                              timeout=30, check=True)
        body, _, code = done.stdout.rpartition(b"\n")
        return int(code), body.decode("utf-8", "replace")

    def lines(self, body):
        lines = body.rstrip("\n").split("\n")
        self.assertEqual(lines[-1], "end", body)
        return lines[:-1]

    # --- the corpus, against Python ---

    def test_query_and_form_bodies_decode_as_parse_qsl_does(self):
        client = self.http()
        for query in FORM_CORPUS:
            for body in FORM_CORPUS + BODY_CORPUS:
                pairs = [(name.encode("latin-1"), value.encode("latin-1")) for text in (query, body)
                         for name, value in urllib.parse.parse_qsl(text.decode("latin-1"), keep_blank_values=True,
                                                                   encoding="latin-1")]
                names, expected = expected_args(pairs)
                path = "/forms" + ("?" + query.decode() if query else "")
                status, text, _ = client.request("POST", path, body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded", "X-Args": names_header(names)})
                self.assertEqual(status, 200, (query, body, text))
                self.assertEqual(self.lines(text), expected, (query, body))

    def test_multipart_decodes_as_the_email_package_does(self):
        client = self.http()
        for content_type, body in multipart_corpus():
            fields, files = python_multipart(content_type, body)
            names, expected = expected_args(fields)
            expected += [f"file {hexed(name)} {hexed(filename)} {hexed(ctype)} {hexed(data)}"
                         for name, filename, ctype, data in files]
            status, text, _ = client.request("POST", "/forms?q=0", body=body, headers={
                "Content-Type": content_type.decode("latin-1"),
                "X-Args": names_header([b"q"] + names), "X-Files": names_header([f[0] for f in files])})
            self.assertEqual(status, 200, (content_type, body, text))
            self.assertEqual(self.lines(text), ["arg 71 1", "value 30"] + expected, (content_type, body))

    # --- curl, as people send forms ---

    def test_curl_get_data_urlencode(self):
        status, text = self.curl("-G", "--data-urlencode", "q=a&b = c/ü", "--data-urlencode", "q=2",
                                 "-H", "X-Args: " + names_header([b"q"]), self.url + "/forms")
        self.assertEqual(status, 200, text)
        self.assertEqual(self.lines(text), ["arg 71 2", "value " + "a&b = c/ü".encode().hex(), "value 32"])

    def test_curl_post_d(self):
        status, text = self.curl("-d", "name=Ann+Lee&msg=hi%21", "-H", "X-Args: " + names_header([b"name", b"msg"]),
                                 self.url + "/forms?name=first")
        self.assertEqual(status, 200, text)
        self.assertEqual(self.lines(text), ["arg " + b"name".hex() + " 2", "value " + b"first".hex(),
                                            "value " + b"Ann Lee".hex(), "arg " + b"msg".hex() + " 1",
                                            "value " + b"hi!".hex()])

    def test_curl_upload_with_F(self):
        upload = os.path.join(self.dir, "photo.bin")
        data = bytes(range(256)) * 40 + b"\r\n--" + b"\r\n"
        with open(upload, "wb") as f:
            f.write(data)
        status, text = self.curl("-F", "photo=@" + upload + ";type=image/png", "-F", "caption=my photo",
                                 "-H", "X-Args: " + names_header([b"caption", b"photo"]),
                                 "-H", "X-Files: " + names_header([b"photo", b"caption", b"nothing"]),
                                 self.url + "/forms")
        self.assertEqual(status, 200, text)
        self.assertEqual(self.lines(text), [
            "arg " + b"caption".hex() + " 1", "value " + b"my photo".hex(),
            "arg " + b"photo".hex() + " 0",  # an upload is not an argument
            "file " + b"photo".hex() + " " + b"photo.bin".hex() + " " + b"image/png".hex() + " " + data.hex(),
            "file " + b"caption".hex() + " absent",  # an argument is not an upload
            "file " + b"nothing".hex() + " absent"])

    def test_curl_cookies_with_b(self):
        status, text = self.curl("-b", 'session=abc123; theme="dark blue"; flag', "-H",
                                 "X-Cookies: " + names_header([b"session", b"theme", b"flag", b"none"]),
                                 self.url + "/forms")
        self.assertEqual(status, 200, text)
        self.assertEqual(self.lines(text), ["cookie " + b"session".hex() + " " + b"abc123".hex(),
                                            "cookie " + b"theme".hex() + " " + b"dark blue".hex(),
                                            "cookie " + b"flag".hex() + " -",
                                            "cookie " + b"none".hex() + " -"])

    # --- hostile requests ---

    def assert_refused(self, answer, status, reason):
        """ANSWER (status, body) is STATUS, and the log names REASON."""
        self.assertEqual(answer[0], status, answer[1])
        harness.wait_for(lambda: reason in self.server.log(), what=f"'{reason}' in the log")

    def test_malformed_escapes_are_400_with_the_reason(self):
        client = self.http()
        names = {"X-Args": names_header([b"a"])}
        self.assert_refused(client.request("GET", "/forms?a=%4", headers=names)[:2], 400,
                            'reason="query string: field 1 value: malformed percent-escape at byte 0')
        status, text, _ = client.request("POST", "/forms", body=b"a=1&b=%zz",
                                         headers={"Content-Type": "application/x-www-form-urlencoded", **names})
        self.assert_refused((status, text), 400, "form body: field 2 value: malformed percent-escape")
        self.assertEqual(text, "Bad Request: form body: field 2 value: malformed percent-escape at byte 0 "
                               "(a '%' must be followed by two hex digits)\n")
        # Python keeps them as text instead (the documented difference).
        self.assertEqual(urllib.parse.parse_qsl("a=%4&b=%zz"), [("a", "%4"), ("b", "%zz")])

    def test_bad_multipart_is_400_with_the_reason(self):
        client = self.http()
        whole = field(b"a", b"1") + field(b"b", b"2") + b"--XyZ--\r\n"
        cases = [
            ("multipart/form-data; boundary=XyZ", whole[:40], "part 1: truncated"),
            ("multipart/form-data; boundary=XyZ", whole[:-4], "truncated: no final delimiter after part 2"),
            ("multipart/form-data; boundary=XyZ", whole[:-9], "part 2: truncated (its data is not followed"),
            ("multipart/form-data; boundary=Other", whole, "the boundary does not appear in the body"),
            ("multipart/form-data", whole, "Content-Type has no boundary"),
            ("multipart/form-data; boundary=" + "b" * 71, whole, "the boundary must have 1 to 70 characters"),
            ("multipart/form-data; boundary=XyZ", part([b"Content-Type: text/plain"], b"x") + b"--XyZ--",
             "part 1: no Content-Disposition header"),
            ("multipart/form-data; boundary=XyZ",
             part([b"Content-Disposition: form-data; name=a", b"X-Pad: " + b"p" * 9000], b"x") + b"--XyZ--",
             "part 1: header block larger than 8192 bytes"),
            ("multipart/form-data; boundary=XyZ", b"".join(field(b"f", b"") for _ in range(1001)) + b"--XyZ--",
             "more than 1000 parts"),
        ]
        for content_type, body, reason in cases:
            answer = client.request("POST", "/forms", body=body,
                                    headers={"Content-Type": content_type, "X-Args": names_header([b"a"])})
            self.assert_refused(answer[:2], 400, reason)
            self.assertIn(reason, answer[1])

    def test_where_python_is_more_lenient_the_server_refuses(self):
        # Bare LF line endings and folded part headers: the email package
        # reads both; RFC 2046 requires CRLF and RFC 7578 has no folding, and
        # no browser or curl sends either, so they are refused with a reason.
        client = self.http()
        lf_only = b'--XyZ\nContent-Disposition: form-data; name="a"\n\n1\n--XyZ--\n'
        self.assertEqual(python_multipart(b"multipart/form-data; boundary=XyZ", lf_only), ([(b"a", b"1")], []))
        answer = client.request("POST", "/forms", body=lf_only,
                                headers={"Content-Type": "multipart/form-data; boundary=XyZ", "X-Args": "61"})
        self.assertEqual(answer[:2], (400, "Bad Request: multipart body: its lines end in LF alone (RFC 2046 requires CRLF)\n"))
        folded = part([b"Content-Disposition: form-data;", b' name="a"'], b"1") + b"--XyZ--"
        self.assertEqual(python_multipart(b"multipart/form-data; boundary=XyZ", folded), ([(b"a", b"1")], []))
        answer = client.request("POST", "/forms", body=folded,
                                headers={"Content-Type": "multipart/form-data; boundary=XyZ", "X-Args": "61"})
        self.assertEqual(answer[0], 400, answer[1])

    def test_a_body_over_max_body_is_413_before_the_handler_runs(self):
        client = self.http()
        status, text, _ = client.request("POST", "/length", body=b"x" * (MAX_BODY + 1),
                                         headers={"Content-Type": "application/octet-stream"})
        self.assert_refused((status, text), 413, f"request refused status=413 path=/length content_length={MAX_BODY + 1}")
        self.assertEqual(text, "Content Too Large: the request body is larger than the server's --max-body\n")
        status, text, _ = client.request("POST", "/length", body=b"x" * MAX_BODY)
        self.assertEqual((status, text), (200, f"body {MAX_BODY}\n"))
        # curl with a form over the limit, as a browser would send it.
        big = os.path.join(self.dir, "big.bin")
        with open(big, "wb") as f:
            f.write(b"\0" * (MAX_BODY * 4))
        self.assertEqual(self.curl("-F", "f=@" + big, self.url + "/forms")[0], 413)

    def test_a_body_longer_than_its_content_length_is_cut_at_max_body(self):
        # Directly over FastCGI (nginx always sends the right length): no
        # CONTENT_LENGTH, so the limit is found while the body is read.
        answer = self.server.request("/length", method="POST", body=b"y" * (MAX_BODY + 10), CONTENT_LENGTH="")
        self.assertEqual(answer.status, 413, answer.text)
        self.assertEqual(answer.text, f"Content Too Large: request body larger than --max-body ({MAX_BODY} bytes)\n")
        self.assertEqual(self.server.request("/length", method="POST", body=b"y" * 10, CONTENT_LENGTH="").text,
                         "body 10\n")

    def test_odd_cookies_never_crash(self):
        odd = [b"a=\x01\x7f\xff; b\x80=\"unclosed; ;;=; c=\"\"; d=\"q\"",
               b";" * 4000, b"=" * 4000, b"x=" + b"\xff" * 4000, b'"' * 3 + b"; e=1"]
        for header in odd:
            answer = self.server.request("/forms", headers={"Cookie": header,
                                                            "X-Cookies": names_header([b"a", b"c", b"d", b"e", b"x"])})
            self.assertEqual(answer.status, 200, (header, answer.text))
        answer = self.server.request("/forms", headers={
            "Cookie": b"a=\x01\x7f\xff; b\x80=\"unclosed; c=\"\"; d=\"q\"",
            "X-Cookies": names_header([b"a", b"b\x80", b"c", b"d"])})
        self.assertEqual(self.lines(answer.text), [
            "cookie 61 017fff", "cookie 6280 " + b'"unclosed'.hex(), "cookie 63 -", "cookie 64 71"])

    def test_a_handler_may_throw_bad_request(self):
        client = self.http()
        status, text, headers = client.request("GET", "/refuses")
        self.assert_refused((status, text), 400, 'reason="refuses: the thing asked for makes no sense"')
        self.assertEqual(text, "Bad Request: refuses: the thing asked for makes no sense\n")
        self.assertNotIn("X-Refuses", headers)
        status = self.json_of(self.server.admin("GET", "status"))
        route = next(r for r in status["routes"] if r["route"] == "/refuses")
        self.assertEqual((route["requests"], route["errors"]), (1, 0))  # the client's fault, not the handler's

    def test_a_caught_refusal_is_answered_400_all_the_same(self):
        status, text, headers = self.http().request("GET", "/swallows?x=%zz")
        self.assert_refused((status, text), 400, "query string: field 1 value: malformed percent-escape")
        self.assertNotIn("swallowed", text)
        self.assertNotIn("X-Swallowed", headers)
        # With a good query, the same handler answers as it wrote.
        status, text, headers = self.http().request("GET", "/swallows?x=1")
        self.assertEqual((status, text, headers["X-Swallowed"]), (200, "swallowed: \n", ""))

    def test_hostile_requests_lose_nothing_else(self):
        # Hostile requests between good ones, on kept connections: every good one answered, no worker lost.
        client = self.http()
        hostile = [
            ("GET", "/forms?a=%zz", b"", {}),
            ("POST", "/forms", field(b"a", b"1")[:30], {"Content-Type": "multipart/form-data; boundary=XyZ"}),
            ("POST", "/forms", b"x" * (MAX_BODY + 1), {"Content-Type": "application/x-www-form-urlencoded"}),
            ("GET", "/forms", b"", {"Cookie": "\x01=\xff;;;=\"\"\""}),
            ("GET", "/refuses", b"", {}),
        ]
        good = 0
        for round in range(20):
            for method, path, body, headers in hostile:
                status, _, _ = client.request(method, path, body=body or None,
                                              headers={"X-Args": names_header([b"a"]), **headers})
                self.assertIn(status, (200, 400, 413))
                status, text, _ = client.request("GET", f"/forms?a={round}", headers={"X-Args": names_header([b"a"])})
                self.assertEqual((status, self.lines(text)), (200, ["arg 61 1", "value " + str(round).encode().hex()]))
                good += 1
        self.assertEqual(good, 100)
        self.assertNotIn("crash", self.server.log())
        self.assertNotIn("exited", self.server.log())


class SingleProcess(harness.TestCase):
    """--workers 0: the same limit, and the same decoding, in one process."""

    def test_max_body_and_decoding_without_workers(self):
        self.module(test_module("forms"), "forms")
        server = self.replugd(["--module-path", self.modules, "--workers", "0", "--max-body", "1K",
                               "--route", "/forms=forms"])
        names = {"X-Args": names_header([b"a"])}
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        answer = server.request("/forms", method="POST", query="a=1", body=b"a=" + b"2" * 1000,
                                headers={**form, **names})
        self.assertEqual(answer.status, 200, answer.text)
        self.assertEqual(answer.text.split("\n")[:3], ["arg 61 2", "value 31", "value " + (b"2" * 1000).hex()])
        self.assertEqual(server.request("/forms", method="POST", body=b"a=" + b"2" * 1023,
                                        headers={**form, **names}).status, 413)
        self.assertEqual(server.request("/forms", query="a=%", headers=names).status, 400)


class MaxBodyOption(harness.TestCase):
    def test_a_bad_max_body_exits_2_naming_the_option(self):
        for args in (["--max-body", "lots"], ["--max-body", "65G"]):
            done = subprocess.run([harness.REPLUGD, "--listen", "unix:" + os.path.join(self.dir, "s"), *args],
                                  capture_output=True, text=True, timeout=30)
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertEqual(len(done.stderr.strip().split("\n")), 1, done.stderr)
            self.assertIn("--max-body", done.stderr)


if __name__ == "__main__":
    unittest.main()

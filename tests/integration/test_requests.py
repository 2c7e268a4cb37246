"""What a handler sees and what the client gets: the SDK's request fields
through nginx, prefix routes, status codes, handler exceptions, keep-alive
connections beyond the thread count, and bytes that are not FastCGI."""

import json
import socket
import threading
import unittest

import fcgi_client
import harness
from harness import HTTP, example_module, test_module


class Requests(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.module(test_module("echo"), "echo")
        self.module(test_module("throws"), "throws")
        self.module(example_module("hello"), "hello")
        self.server = self.replugd(["--module-path", self.modules, "--threads", "2", "--listen-group", "www-data",
                                    "--route", "/echo/*=echo", "--route", "/echo/exact=hello",
                                    "--route", "/status=echo:status", "--route", "/throws/*=throws"])

    def fields(self, text):
        return dict(line.split(": ", 1) for line in text.rstrip("\n").split("\n"))

    def test_request_fields_through_nginx(self):
        front = self.nginx(self.server.address)
        client = HTTP(front.port)
        self.addCleanup(client.close)
        status, body, headers = client.request("POST", "/echo/a/b?x=1&y=two", body=b"payload bytes",
                                               headers={"X-Test": "hello", "Content-Type": "text/custom"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["X-Echo"], "yes")
        self.assertEqual(self.fields(body), {
            "method": "POST", "path": "/echo/a/b", "query": "x=1&y=two",
            "param REQUEST_URI": "/echo/a/b?x=1&y=two", "header x-test": "hello",
            "header Content-Type": "text/custom", "body": "payload bytes"})

    def test_routing_exact_beats_prefix(self):
        self.assertEqual(self.server.request("/echo/exact").text, "Hello from replug: GET /echo/exact\n")
        self.assertEqual(self.fields(self.server.request("/echo").text)["path"], "/echo")
        self.assertEqual(self.server.request("/echoes").status, 404)

    def test_lighttpd_style_split_path(self):
        # lighttpd sends SCRIPT_NAME=/first-segment and PATH_INFO=/rest.
        answer = self.server.request("/echo", PATH_INFO="/a/b", DOCUMENT_URI="")
        self.assertEqual(self.fields(answer.text)["path"], "/echo/a/b")

    def test_status_from_the_handler(self):
        answer = self.server.request("/status", query="418")
        self.assertEqual((answer.status, answer.text), (418, "status 418"))

    def test_handler_exceptions_answer_500_and_are_counted(self):
        for path in ["/throws/std", "/throws/int"]:
            answer = self.server.request(path)
            self.assertEqual((answer.status, answer.text), (500, "Internal Server Error\n"))
        self.assertIn('what="boom from the module"', self.server.log())
        self.assertIn('what="non-standard exception"', self.server.log())
        status = self.json_of(self.server.admin("GET", "status"))
        route = next(r for r in status["routes"] if r["route"] == "/throws/*")
        self.assertEqual((route["requests"], route["errors"]), (2, 2))
        self.assertEqual(self.server.request("/echo/still-alive").status, 200)

    def test_keepalive_connections_beyond_the_thread_count(self):
        # Eight idle keep-alive connections and two threads: a ninth client
        # is still served (libfcgi alone would keep both threads in read()).
        idle = []
        for _ in range(8):
            sock = fcgi_client.connect(self.server.address)
            sock.sendall(fcgi_client.encode_request(fcgi_client.cgi_params("/echo/x"), keep=True))
            self.assertEqual(fcgi_client.read_response(sock).status, 200)
            idle.append(sock)
        self.assertEqual(self.server.request("/echo/ninth", timeout=5).status, 200)
        for sock in idle:  # and every parked connection still works
            sock.sendall(fcgi_client.encode_request(fcgi_client.cgi_params("/echo/again"), keep=True))
            self.assertEqual(fcgi_client.read_response(sock).status, 200)
            sock.close()

    def test_bytes_that_are_not_fastcgi_lose_nothing(self):
        with fcgi_client.connect(self.server.address) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 10)
            sock.shutdown(socket.SHUT_WR)
            self.assertEqual(sock.recv(100), b"")  # closed, nothing answered
        self.assertEqual(self.server.request("/echo/fine").status, 200)

    def test_unusable_path_is_a_bad_request(self):
        answer = self.server.request("relative", SCRIPT_NAME="relative", DOCUMENT_URI="", REQUEST_URI="")
        self.assertEqual(answer.status, 400)


class ReloadUnderLoad(harness.TestCase):
    def test_flipping_versions_under_concurrent_requests(self):
        self.module(test_module("pluggable_v2"), "pluggable")
        server = self.replugd(["--module-path", self.modules, "--route", "/pluggable=pluggable", "--threads", "4",
                               "--listen-group", "www-data"])
        front = self.nginx(server.address)
        bodies = {"Second version of code", "Third version of code"}
        stop = threading.Event()
        seen, failures = [], []

        def client():
            http = HTTP(front.port)
            try:
                while not stop.is_set():
                    status, body, _ = http.get("/pluggable")
                    if status != 200 or body not in bodies:
                        failures.append((status, body))
                    seen.append(body)
            finally:
                http.close()

        clients = harness.ClientThreads([client] * 8)
        admin = HTTP(front.port)
        try:
            for round_number in range(300):
                version = 3 if round_number % 2 == 0 else 2
                self.module(test_module(f"pluggable_v{version}"), "pluggable")
                status, body = admin.admin("POST", "reload?route=/pluggable")
                self.assertEqual(status, 200, body)
                self.assertEqual(json.loads(body)["new"]["version"], str(version))
        finally:
            stop.set()
            admin.close()
            clients.join()
        self.assertEqual(failures, [])
        self.assertGreater(len(seen), 300)
        self.assertEqual(set(seen), bodies)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()

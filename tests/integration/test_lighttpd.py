"""The story through the real lighttpd with the shipped config
(nginx/lighttpd-replug.conf): first version -> reload -> second; prefix
routes reach the handler with the whole path although lighttpd splits it
into SCRIPT_NAME and PATH_INFO; lighttpd and nginx route the same URLs to
the same handlers; admin POSTs need Content-Length; admin is loopback only."""

import json
import signal
import socket
import unittest

import harness
from harness import HTTP, TOKEN, example_module, test_module

ECHO_A_B = ("method: GET\n"
            "path: /echo/a/b\n"
            "query: x=1\n"
            "param REQUEST_URI: /echo/a/b?x=1\n"
            "header x-test: through lighttpd\n"
            "header Content-Type: \n"
            "body: \n")


class LighttpdStory(harness.TestCase):
    def start(self):
        self.module(example_module("pluggable"), "pluggable")
        self.module(example_module("hello"), "hello")
        self.module(test_module("echo"), "echo")
        self.server = self.replugd(["--module-path", self.modules, "--route", "/pluggable=pluggable",
                                    "--route", "/hello=hello", "--route", "/echo/*=echo",
                                    "--listen-group", "www-data", "--threads", "2"])
        self.front = self.lighttpd(self.server.address)
        self.http = HTTP(self.front.port)
        self.addCleanup(self.http.close)

    def test_first_version_reload_second_version(self):
        self.start()
        self.assertEqual(self.http.get("/pluggable")[:2], (200, "First version of code"))

        self.module(test_module("pluggable_v2"), "pluggable")
        status, body = self.http.admin("POST", "reload?route=/pluggable")
        self.assertEqual(status, 200, body)
        answer = json.loads(body)
        self.assertEqual((answer["old"]["version"], answer["new"]["version"]), ("1", "2"))
        self.assertEqual(answer["message"], "Code swapped to 2")
        self.assertEqual(self.http.get("/pluggable")[:2], (200, "Second version of code"))
        self.assertEqual(self.http.get("/hello")[:2], (200, "Hello from replug: GET /hello\n"))
        self.assertEqual(self.http.get("/nothing-here")[0], 404)

        self.module(test_module("pluggable_v3"), "pluggable")
        status, body = self.http.admin("POST", "reload")
        self.assertEqual(status, 200, body)
        swapped = {route["route"]: route["message"] for route in json.loads(body)["routes"]}
        self.assertEqual(swapped["/pluggable"], "Code swapped to 3")
        self.assertEqual(self.http.get("/pluggable")[:2], (200, "Third version of code"))

        self.server.send(signal.SIGHUP)
        harness.wait_for(lambda: "reload route=/pluggable module=pluggable 3 -> 3" in self.server.log(),
                         what="SIGHUP reload")
        self.assertEqual(self.http.get("/pluggable")[:2], (200, "Third version of code"))
        self.assertEqual(self.server.stop(), 0)
        self.assertEqual(self.front.stop(), 0)

    def test_prefix_route_gets_the_whole_path(self):
        # lighttpd sends SCRIPT_NAME=/echo and PATH_INFO=/a/b; the handler
        # must see /echo/a/b, as behind nginx.
        self.start()
        status, body, headers = self.http.get("/echo/a/b?x=1", headers={"X-Test": "through lighttpd"})
        self.assertEqual((status, body), (200, ECHO_A_B))
        self.assertEqual(headers["X-Echo"], "yes")
        status, body, _ = self.http.get("/echo")
        self.assertEqual(status, 200)
        self.assertIn("path: /echo\n", body)

    def test_lighttpd_and_nginx_route_the_same_urls_to_the_same_handlers(self):
        self.start()
        nginx = HTTP(self.nginx(self.server.address).port)
        self.addCleanup(nginx.close)
        for url in ["/pluggable", "/hello", "/echo", "/echo/", "/echo/a", "/echo/a/b?x=1", "/echo/a/b/c.d?y",
                    "/echoes", "/pluggable/more", "/", "/nothing-here"]:
            through_lighttpd = self.http.get(url, headers={"X-Test": "same"})[:2]
            through_nginx = nginx.get(url, headers={"X-Test": "same"})[:2]
            self.assertEqual(through_lighttpd, through_nginx, url)
        self.assertEqual(self.http.get("/echo/a")[:2][0], 200)
        self.assertEqual(self.http.get("/echoes")[0], 404)
        self.assertEqual(self.http.get("/pluggable/more")[0], 404)

    def test_a_post_needs_content_length(self):
        self.start()
        with socket.create_connection(("127.0.0.1", self.front.port), timeout=10) as raw:
            raw.sendall(b"POST /-/reload HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + TOKEN.encode() +
                        b"\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := raw.recv(65536):
                answer += chunk
        self.assertTrue(answer.startswith(b"HTTP/1.1 411 Length Required\r\n"), answer[:200])
        self.assertNotIn("reload route=", self.server.log())
        # With Content-Length: 0 (harness.HTTP.admin sends it) it goes through.
        status, body = self.http.admin("POST", "reload")
        self.assertEqual(status, 200, body)
        self.assertIn("reload route=/pluggable module=pluggable 1 -> 1 generation=2", self.server.log())

    def test_admin_is_limited_to_loopback(self):
        self.start()
        elsewhere = HTTP(self.front.port, source_address="127.0.0.2")
        self.addCleanup(elsewhere.close)
        self.assertEqual(elsewhere.admin("GET", "status")[0], 403)
        self.assertEqual(elsewhere.admin("POST", "reload?route=/pluggable")[0], 403)
        self.assertEqual(elsewhere.get("/hello")[:2], (200, "Hello from replug: GET /hello\n"))
        status, body = self.http.admin("GET", "status")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.http.admin("GET", "status", token=None)[0], 401)


if __name__ == "__main__":
    unittest.main()

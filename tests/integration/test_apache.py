"""The story through the real Apache httpd (Debian's apache2, mod_proxy_fcgi)
with the shipped site (nginx/apache-replug.conf): /hello and the first
version -> reload -> second, admin through Apache with the token (the site's
CGIPassAuth On passes Authorization), admin for loopback only; and when a
front server passes no Authorization at all (the site without CGIPassAuth),
replugd says in its log, once a minute at most, what front servers need."""

import json
import os
import re
import subprocess
import unittest

import harness
from harness import HTTP, SOURCE_ROOT, example_module, test_module

REPLUGCTL = os.environ.get("REPLUGCTL", "replugctl")
SITE = os.path.join(SOURCE_ROOT, "nginx", "apache-replug.conf")
HINT = ("admin request without an Authorization header: if the client sent one, the front server did not pass it "
        "on (nginx passes it as it is; Apache needs CGIPassAuth On, as in nginx/apache-replug.conf; "
        "replugctl --socket talks to replugd directly)")


@unittest.skipUnless(harness.APACHE, "apache2 is not installed (packaging/install-deps test)")
class ApacheStory(harness.TestCase):
    def start(self, site=SITE):
        self.module(example_module("pluggable"), "pluggable")
        self.module(example_module("hello"), "hello")
        self.server = self.replugd(["--module-path", self.modules, "--route", "/pluggable=pluggable",
                                    "--route", "/hello=hello", "--listen-group", "www-data", "--threads", "2"])
        self.front = self.apache(self.server.address, site=site)
        self.http = HTTP(self.front.port)
        self.addCleanup(self.http.close)

    def test_hello_reload_and_admin_with_the_token_through_apache(self):
        self.start()
        self.assertEqual(self.http.get("/hello")[:2], (200, "Hello from replug: GET /hello\n"))
        self.assertEqual(self.http.get("/pluggable")[:2], (200, "First version of code"))
        self.assertEqual(self.http.get("/nothing-here")[0], 404)

        status, body = self.http.admin("GET", "status")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["pid"], self.server.pid)
        self.module(test_module("pluggable_v2"), "pluggable")
        status, body = self.http.admin("POST", "reload?route=/pluggable")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["message"], "Code swapped to 2")
        self.assertEqual(self.http.get("/pluggable")[:2], (200, "Second version of code"))
        self.assertEqual(self.http.admin("GET", "status", token="wrong-token-0123456789")[0], 401)
        self.assertNotIn("without an Authorization header", self.server.log())

        # replugctl --url through Apache, too.
        token_file = os.path.join(self.dir, "ctl.token")
        with open(token_file, "w") as f:
            f.write(harness.TOKEN + "\n")
        done = subprocess.run([REPLUGCTL, "--url", f"http://127.0.0.1:{self.front.port}/-/", "--token-file",
                               token_file, "rollback", "/pluggable"], capture_output=True, text=True, timeout=60)
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        self.assertRegex(done.stdout, r"^/pluggable: 2 -> 1 ")

        # Admin is for loopback only: 127.0.0.2 is local, yet not 127.0.0.1.
        elsewhere = HTTP(self.front.port, source_address="127.0.0.2")
        self.addCleanup(elsewhere.close)
        self.assertEqual(elsewhere.admin("GET", "status")[0], 403)
        self.assertEqual(elsewhere.get("/hello")[0], 200)

    def test_without_cgipassauth_replugd_says_what_the_front_server_must_pass(self):
        with open(SITE) as f:
            text = f.read()
        self.assertEqual(text.count("        CGIPassAuth On\n"), 1)
        site = os.path.join(self.dir, "no-passauth.conf")
        with open(site, "w") as f:
            f.write(text.replace("        CGIPassAuth On\n", ""))
        self.start(site=site)
        for _ in range(3):  # the token is sent, and Apache drops it
            self.assertEqual(self.http.admin("GET", "status")[0], 401)
        log = self.server.log()
        self.assertEqual(log.count(HINT), 1, log)
        self.assertRegex(log, r" warn " + re.escape(HINT) + "\n")
        self.assertEqual(log.count("admin unauthorized path=/-/status"), 3, log)


if __name__ == "__main__":
    unittest.main()

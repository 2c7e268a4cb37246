"""The seed's story, played through the real nginx with the shipped site
config: first version -> reload -> second -> overwrite in place -> reload ->
third; and SIGHUP, search-path order, refusals, the admin API's codes."""

import json
import os
import signal
import unittest

import harness
from harness import HTTP, TOKEN, example_module, test_module


class NginxStory(harness.TestCase):
    def start(self, extra=()):
        self.module(example_module("pluggable"), "pluggable")
        self.module(example_module("hello"), "hello")
        self.server = self.replugd(["--module-path", self.modules, "--route", "/pluggable=pluggable",
                                    "--route", "/hello=hello", "--listen-group", "www-data", "--threads", "2",
                                    *extra])
        self.front = self.nginx(self.server.address)
        self.http = HTTP(self.front.port)
        self.addCleanup(self.http.close)

    def test_seed_story_first_second_third(self):
        self.start()
        self.assertEqual(self.http.get("/pluggable")[:2], (200, "First version of code"))

        self.module(test_module("pluggable_v2"), "pluggable")  # a deploy: write beside, rename over
        status, body = self.http.admin("POST", "reload?route=/pluggable")
        self.assertEqual(status, 200, body)
        answer = json.loads(body)
        self.assertEqual(answer["old"]["version"], "1")
        self.assertEqual(answer["new"]["version"], "2")
        self.assertEqual(answer["message"], "Code swapped to 2")
        self.assertEqual(self.http.get("/pluggable")[:2], (200, "Second version of code"))

        # Overwrite the very file the server loaded from, in place. A plain
        # dlopen of this path would crash or keep serving version 2.
        harness.overwrite_in_place(test_module("pluggable_v3"), os.path.join(self.modules, "pluggable.so"))
        self.assertEqual(self.http.get("/pluggable")[:2], (200, "Second version of code"))
        status, body = self.http.admin("POST", "reload?route=/pluggable")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["message"], "Code swapped to 3")
        self.assertEqual(self.http.get("/pluggable")[:2], (200, "Third version of code"))
        self.assertEqual(self.http.get("/hello")[:2], (200, "Hello from replug: GET /hello\n"))
        self.assertEqual(self.http.get("/nothing-here")[0], 404)

        log = self.server.log()
        self.assertIn("reload route=/pluggable module=pluggable 2 -> 3 generation=3", log)
        self.assertEqual(self.server.stop(), 0)

    def test_alternating_reloads_never_serve_the_previous_copy(self):
        # glibc's path cache: reusing a copy's path name returns the old code.
        self.start()
        for round_number in range(20):
            version = 2 + round_number % 2
            self.module(test_module(f"pluggable_v{version}"), "pluggable")
            status, body = self.http.admin("POST", "reload?route=/pluggable")
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["new"]["version"], str(version))
            expected = "Second version of code" if version == 2 else "Third version of code"
            self.assertEqual(self.http.get("/pluggable")[:2], (200, expected))

    def test_sighup_reloads_every_route(self):
        self.start()
        self.module(test_module("pluggable_v2"), "pluggable")
        self.server.send(signal.SIGHUP)
        harness.wait_for(lambda: self.http.get("/pluggable")[1] == "Second version of code", what="SIGHUP reload")
        # The master logs the swaps once every worker committed, so a worker may serve the new code a moment before.
        harness.wait_for(lambda: "reload route=/hello module=hello 1 -> 1 generation=2" in self.server.log(),
                         what="the reload's log line")

    def test_broken_module_is_refused_and_the_old_one_serves(self):
        self.start()
        with open(os.path.join(self.modules, "pluggable.so"), "wb") as f:
            f.write(b"this is not a shared object")
        status, body = self.http.admin("POST", "reload?route=/pluggable")
        self.assertEqual(status, 422, body)
        self.assertIn("not an ELF file", json.loads(body)["error"])
        self.assertEqual(self.http.get("/pluggable")[:2], (200, "First version of code"))
        self.assertIn("reload route=/pluggable refused", self.server.log())

    def test_admin_codes(self):
        self.start()
        status, body = self.http.admin("GET", "status", token=None)
        self.assertEqual((status, json.loads(body)), (401, {"error": "unauthorized"}))
        status, body = self.http.admin("GET", "status", token=TOKEN + "x")
        self.assertEqual((status, json.loads(body)), (401, {"error": "unauthorized"}))
        self.assertEqual(self.http.admin("GET", "reload?route=/pluggable")[0], 405)
        self.assertEqual(self.http.admin("GET", "rollback?route=/pluggable")[0], 405)
        status, body = self.http.admin("POST", "reload?route=/nope")
        self.assertEqual(status, 404, body)
        self.assertEqual(self.http.admin("POST", "rollback?route=/pluggable")[0], 409)
        status, body = self.http.admin("GET", "status")
        self.assertEqual(status, 200, body)
        routes = {r["route"]: r for r in json.loads(body)["routes"]}
        self.assertEqual(routes["/pluggable"]["current"]["version"], "1")
        self.assertEqual(routes["/pluggable"]["module"], "pluggable")

    def test_rollback_after_reload(self):
        self.start()
        self.module(test_module("pluggable_v2"), "pluggable")
        self.assertEqual(self.http.admin("POST", "reload?route=/pluggable")[0], 200)
        status, body = self.http.admin("POST", "rollback?route=/pluggable")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["new"]["version"], "1")
        self.assertEqual(self.http.get("/pluggable")[:2], (200, "First version of code"))
        self.assertEqual(self.http.admin("POST", "rollback?route=/pluggable")[0], 409)


if __name__ == "__main__":
    unittest.main()

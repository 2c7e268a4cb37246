"""Two replugd instances behind one nginx upstream (round robin), with the
shipped site config whose one upstream server line becomes two: both
serve; the README's reload command (replugctl with each instance's socket)
swaps both as one change (a check on each, then the swap on each), after
which every response is the new version; with one
instance stopped, nginx sends everything to the other."""

import json
import os
import re
import subprocess
import unittest

import harness
from harness import HTTP, SOURCE_ROOT, example_module, test_module

REPLUGCTL = os.environ.get("REPLUGCTL", "replugctl")
LOOP_START = "# reload every instance as one change"


def readme_reload_loop():
    """The shell block of README.md that starts with LOOP_START."""
    with open(os.path.join(SOURCE_ROOT, "README.md")) as f:
        readme = f.read()
    block = re.search(r"```sh\n(" + re.escape(LOOP_START) + r"\n.*?)```", readme, re.S)
    assert block, "README.md has no reload command for several instances"
    return block.group(1)


class ScaleOut(harness.TestCase):
    def start(self):
        self.module(example_module("pluggable"), "pluggable")
        self.instances = self.replugd_instances(
            "ab", ["--route", "/pluggable=pluggable", "--listen-group", "www-data", "--threads", "2"])
        self.front = self.nginx([server.address for server in self.instances])
        self.http = HTTP(self.front.port)
        self.addCleanup(self.http.close)

    def requests_served(self):
        counts = []
        for server in self.instances:
            answer = server.admin("GET", "status")
            self.assertEqual(answer.status, 200, answer.text)
            counts.append({r["route"]: r["requests"] for r in json.loads(answer.text)["routes"]}["/pluggable"])
        return counts

    def test_reloading_every_instance_serves_only_the_new_version(self):
        self.start()
        with open(os.path.join(self.front.prefix, "site.conf")) as f:
            upstream = f.read().split("}")[0]
        self.assertEqual(upstream.count("    server unix:"), 2, upstream)

        self.assertEqual({self.http.get("/pluggable")[:2] for _ in range(20)}, {(200, "First version of code")})
        before = self.requests_served()
        self.assertEqual(sum(before), 20)
        self.assertTrue(all(before), f"round robin left an instance idle: {before}")

        self.module(test_module("pluggable_v2"), "pluggable")
        loop = readme_reload_loop()
        for server, shipped in zip(self.instances, ("/run/replug/a.sock", "/run/replug/b.sock")):
            self.assertIn(shipped, loop)
            loop = loop.replace(shipped, server.address[len("unix:"):])
        loop = loop.replace("/etc/replug/admin.token", self.token_file)
        path = os.path.dirname(os.path.abspath(REPLUGCTL)) + os.pathsep + os.environ.get("PATH", "")
        result = subprocess.run(["sh", "-e", "-c", loop], env=dict(os.environ, PATH=path), capture_output=True,
                                text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        for server in self.instances:  # the table: a row per instance
            self.assertRegex(result.stdout, "(?m)^" + re.escape(server.address) + r" +1 +2 +[0-9a-f]{12} +swapped$")

        self.assertEqual({self.http.get("/pluggable")[:2] for _ in range(20)}, {(200, "Second version of code")})
        after = self.requests_served()
        self.assertEqual(sum(after) - sum(before), 20)
        self.assertTrue(all(a > b for a, b in zip(after, before)), f"{before} -> {after}")

        # One instance stops (a restart, an upgrade): nginx passes its share
        # to the other, and no request fails.
        self.assertEqual(self.instances[0].stop(), 0)
        self.assertEqual({self.http.get("/pluggable")[:2] for _ in range(10)}, {(200, "Second version of code")})


if __name__ == "__main__":
    unittest.main()

"""One reload over three replugd instances (worker processes each) behind one
nginx upstream, with replugctl's repeated --socket and --targets: a check on
every instance (POST reload?route=&check=1), then the swap on every instance,
and a rollback of the swapped ones when a swap fails. Whatever fails, no
instance is left on a different version than the others, and the table says
which target refused. Also the check alone, in worker processes and in a
single process: nothing is swapped, the version is loaded and unloaded."""

import hashlib
import json
import os
import re
import subprocess
import unittest

import harness
from harness import HTTP, example_module, test_module

REPLUGCTL = os.environ.get("REPLUGCTL", "replugctl")
HEADER = r"TARGET +OLD +NEW +SHA256 +RESULT\n"


def read(path):
    """The text of PATH; "" when there is none yet."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class FleetReload(harness.TestCase):
    def start(self, envs=(None, None, None), directories=(None, None, None), args=()):
        """Three instances a, b, c; the module directory of each (default: the
        shared one, with the example's version 1 in it)."""
        self.module(example_module("pluggable"), "pluggable")
        self.instances = self.replugd_instances(
            "abc", ["--route", "/pluggable=pluggable", "--listen-group", "www-data", "--workers", "2",
                    "--threads", "2", *args], envs=envs, directories=directories)
        self.front = self.nginx([server.address for server in self.instances])
        self.http = HTTP(self.front.port)
        self.addCleanup(self.http.close)
        self.sockets = sum((["--socket", server.address] for server in self.instances), [])

    def ctl(self, *args):
        done = subprocess.run([REPLUGCTL, "--token-file", self.token_file, *args], capture_output=True, text=True,
                              timeout=120)
        return done.returncode, done.stdout, done.stderr

    def versions(self):
        """(version, generation) that each instance's status says /pluggable serves."""
        served = []
        for server in self.instances:
            answer = server.admin("GET", "status")
            self.assertEqual(answer.status, 200, answer.text)
            route = json.loads(answer.text)["routes"][0]
            served.append((route["current"]["version"], route["current"]["generation"]))
        return served

    def bodies(self, count=30):
        return {self.http.get("/pluggable")[:2] for _ in range(count)}

    def row(self, out, server):
        found = re.search("^" + re.escape(server.address) + r" +(\S+) +(\S+) +(\S+) +(.*)$", out, re.M)
        self.assertIsNotNone(found, out)
        return found.groups()

    def test_every_instance_swaps_after_every_check_passed(self):
        self.start()
        self.assertEqual(self.bodies(), {(200, "First version of code")})
        self.module(test_module("pluggable_v2"), "pluggable")
        sha = sha256_of(os.path.join(self.modules, "pluggable.so"))
        code, out, err = self.ctl(*self.sockets, "reload", "/pluggable")
        self.assertEqual((code, err), (0, ""), out)
        self.assertRegex(out, "^" + HEADER)
        for server in self.instances:
            self.assertEqual(self.row(out, server), ("1", "2", sha[:12], "swapped"))
        self.assertEqual(self.versions(), [("2", 2)] * 3)
        self.assertEqual(self.bodies(), {(200, "Second version of code")})
        for server in self.instances:  # the check was logged, and swapped nothing by itself
            self.assertRegex(server.log(), r"reload check route=/pluggable module=pluggable 1 -> 2 would swap: .*"
                                           r"sha256=" + sha + r" workers=2 \(nothing swapped\)")

    def test_one_instance_that_refuses_the_check_leaves_every_instance_as_it_was(self):
        # c's module directory holds a different file: a truncated ELF (refused as root too).
        broken = os.path.join(self.dir, "broken")
        os.makedirs(broken, mode=0o755)
        self.module(example_module("pluggable"), "pluggable", directory=broken)
        self.start(directories=(None, None, broken))
        self.module(test_module("pluggable_v2"), "pluggable")
        with open(os.path.join(self.modules, "pluggable.so"), "rb") as f:
            image = f.read()
        with open(os.path.join(broken, "pluggable.so"), "wb") as f:
            f.write(image[: len(image) // 2])
        targets = os.path.join(self.dir, "fleet.targets")
        with open(targets, "w") as f:
            f.write("# the fleet\n" + "\n".join(server.address for server in self.instances[1:]) + "\n")

        code, out, err = self.ctl("--socket", self.instances[0].address, "--targets", targets, "reload", "/pluggable")
        self.assertEqual(code, 1, out + err)
        self.assertEqual(err, "replugctl: /pluggable: not reloaded everywhere; every target is back on its version "
                              "unless the table says otherwise\n")
        self.assertEqual(self.row(out, self.instances[0])[3], "checked, not swapped")
        self.assertEqual(self.row(out, self.instances[1])[3], "checked, not swapped")
        old, new, sha, result = self.row(out, self.instances[2])
        self.assertEqual((old, new, sha), ("?", "?", "-"))
        self.assertRegex(result, r"^check refused: module " + re.escape(os.path.join(broken, "pluggable.so")) + ": ")
        self.assertEqual(self.versions(), [("1", 1)] * 3)
        self.assertEqual(self.bodies(), {(200, "First version of code")})
        # A check is no reload: no instance counts a failure or shows an error.
        for server in self.instances:
            route = json.loads(server.admin("GET", "status").text)["routes"][0]
            self.assertIsNone(route["last_error"], route)
        # The same refusal, as the server gives it to a real reload of c: 422 with the reason.
        answer = self.instances[2].admin("POST", "reload", query="route=/pluggable&check=1")
        self.assertEqual(answer.status, 422, answer.text)
        self.assertEqual("check refused: " + json.loads(answer.text)["error"], result)

    def test_a_refused_swap_rolls_back_the_instances_that_swapped(self):
        # c's load hook passes the check (2 loads: one per worker) and refuses the swap.
        count = os.path.join(self.dir, "c.loads")
        self.start(envs=(None, None, {"REPLUG_TEST_LOAD_COUNT": count, "REPLUG_TEST_LOADS_ALLOWED": "2"}))
        self.module(test_module("hook_refuses_later"), "pluggable")
        code, out, err = self.ctl(*self.sockets, "reload", "/pluggable")
        self.assertEqual(code, 1, out + err)
        for server in self.instances[:2]:
            self.assertEqual(self.row(out, server)[1:], ("hooks", self.row(out, server)[2], "swapped, rolled back to 1"))
        self.assertRegex(self.row(out, self.instances[2])[3],
                         r"^swap refused: module .*pluggable\.so: .*no more loads allowed here")
        with open(count) as f:
            self.assertEqual(f.read(), "loaded\n" * 2)
        self.assertEqual([version for version, _ in self.versions()], ["1"] * 3)
        self.assertEqual(self.bodies(), {(200, "First version of code")})

    def test_an_instance_that_does_not_answer_fails_the_check_with_3(self):
        self.start()
        self.module(test_module("pluggable_v2"), "pluggable")
        absent = "unix:" + os.path.join(self.dir, "absent.sock")
        code, out, err = self.ctl(*self.sockets, "--socket", absent, "reload", "/pluggable")
        self.assertEqual(code, 3, out + err)
        self.assertRegex(out, re.escape(absent) + r" +\? +\? +- +no answer: cannot connect to " + re.escape(absent))
        self.assertEqual(self.versions(), [("1", 1)] * 3)

    def test_the_check_alone_loads_and_unloads_and_swaps_nothing(self):
        marker = os.path.join(self.dir, "unloaded")
        env = {"REPLUG_TEST_UNLOAD_MARKER": marker}
        self.module(test_module("marker_v1"), "marker")
        self.start(envs=(env, env, env), args=["--route", "/marker=marker"])
        self.module(test_module("marker_v2"), "marker")
        sha = sha256_of(os.path.join(self.modules, "marker.so"))
        code, out, err = self.ctl(*self.sockets, "reload", "--check", "/marker")
        self.assertEqual((code, err), (0, ""), out)
        for server in self.instances:
            self.assertEqual(self.row(out, server), ("1", "2", sha[:12], "checked, nothing swapped"))
        # Every worker of every instance loaded version 2 and unloaded it again.
        harness.wait_for(lambda: read(marker).count("unloaded 2") == 6, what="six unloads of version 2")
        self.assertEqual(self.http.get("/marker")[:2], (200, "marker 1"))
        for server in self.instances:
            route = json.loads(server.admin("GET", "status").text)["routes"][1]
            self.assertEqual((route["current"]["version"], route["current"]["generation"], route["previous"]),
                             ("1", 1, None))

    def test_a_check_in_a_single_process_answers_what_would_happen(self):
        marker = os.path.join(self.dir, "unloaded")
        self.module(test_module("marker_v1"), "marker")
        server = self.replugd(["--workers", "0", "--module-path", self.modules, "--route", "/marker=marker"],
                              env=dict(os.environ, REPLUG_TEST_UNLOAD_MARKER=marker))
        self.token_file = os.path.join(self.dir, "admin.token")  # the harness's
        self.module(test_module("marker_v2"), "marker")
        sha = sha256_of(os.path.join(self.modules, "marker.so"))
        answer = server.admin("POST", "reload", query="route=/marker&check=1")
        self.assertEqual(answer.status, 200, answer.text)
        body = json.loads(answer.text)
        self.assertEqual((body["old"]["version"], body["new"]["version"], body["new"]["generation"],
                          body["new"]["sha256"], body["check"]), ("1", "2", 2, sha, True))
        self.assertEqual(body["message"], "Check passed: a reload would swap in 2; nothing was swapped")
        self.assertEqual(read(marker), "unloaded 2\n")
        self.assertEqual(server.request("/marker").body, b"marker 1")
        # replugctl --check, one target: one line.
        code, out, err = self.ctl("--socket", server.address, "reload", "--check", "/marker")
        self.assertEqual((code, err), (0, ""))
        self.assertRegex(out, r"^/marker: check passed: 1 -> 2 would be swapped in \(sha256 " + sha +
                              r", \d+\.\d\d ms\); nothing swapped\n$")
        # The real reload then swaps generation 2 in.
        answer = server.admin("POST", "reload", query="route=/marker")
        self.assertEqual(json.loads(answer.text)["new"]["generation"], 2)
        # Refusals answer as a reload would: 404 for no route, 422 for a bad module; 400 for no route at all.
        self.assertEqual(server.admin("POST", "reload", query="route=/nope&check=1").status, 404)
        self.module(test_module("hook_refuses"), "marker")
        refused = server.admin("POST", "reload", query="route=/marker&check=1")
        self.assertEqual(refused.status, 422, refused.text)
        self.assertIn("load hook", json.loads(refused.text)["error"])
        route = json.loads(server.admin("GET", "status").text)["routes"][0]
        self.assertEqual((route["current"]["generation"], route["last_error"]), (2, None))
        everything = server.admin("POST", "reload", query="check=1")
        self.assertEqual((everything.status, json.loads(everything.text)["error"]),
                         (400, "check=1 needs route=PATH: a check of every route at once is not offered"))


if __name__ == "__main__":
    unittest.main()

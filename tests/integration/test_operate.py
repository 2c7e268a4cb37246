"""Operating it: rollback, state handoff between versions, the unload hook,
status fields and Prometheus metrics, all against a running replugd behind
the real nginx."""

import json
import os
import re
import unittest

import fcgi_client
import harness
from harness import HTTP, example_module, test_module


def parse_prometheus(text):
    """Checks TEXT against the Prometheus text exposition rules and returns
    {(name, frozenset(labels)): value}. Raises AssertionError on a violation."""
    samples, types, helps = {}, {}, set()
    name_re = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
    label_re = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')
    assert text.endswith("\n"), "exposition must end with a newline"
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert name_re.match(name) and name not in helps, line
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, "TYPE twice for " + name
            types[name] = kind
            continue
        assert line and not line.startswith("#"), repr(line)
        match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        assert match, "bad sample line: " + line
        name, labels_text, value = match.group(1), match.group(3) or "", match.group(4)
        labels = {}
        rest = labels_text
        while rest:
            label = label_re.match(rest)
            assert label, "bad labels: " + labels_text
            labels[label.group(1)] = label.group(2)
            rest = rest[label.end():]
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name.endswith(("_bucket", "_sum", "_count")) else name
        assert family in types or name in types, "sample before its TYPE: " + line
        float(value)
        key = (name, frozenset(labels.items()))
        assert key not in samples, "duplicate sample: " + line
        samples[key] = float(value)
    for name, kind in types.items():
        if kind == "histogram":  # buckets cumulative, +Inf equals _count
            for (sample, labels), value in samples.items():
                if sample == name + "_count":
                    inf = samples[(name + "_bucket", labels | {("le", "+Inf")})]
                    assert inf == value, f"{name}: +Inf bucket {inf} != count {value}"
    return samples


class Operate(harness.TestCase):
    def start(self, *routes, env=None, workers=2):
        self.server = self.replugd(["--module-path", self.modules, "--listen-group", "www-data",
                                    "--workers", str(workers), *sum((["--route", r] for r in routes), [])], env=env)
        self.front = self.nginx(self.server.address)
        self.http = HTTP(self.front.port)
        self.addCleanup(self.http.close)

    def reload(self, route):
        status, body = self.http.admin("POST", "reload?route=" + route)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_rollback_v1_v2_rollback_v1(self):
        self.module(example_module("pluggable"), "pluggable")
        self.start("/p=pluggable")
        self.module(test_module("pluggable_v2"), "pluggable")
        self.reload("/p")
        self.assertEqual(self.http.get("/p")[1], "Second version of code")
        status = json.loads(self.http.admin("GET", "status")[1])["routes"][0]
        self.assertEqual((status["current"]["version"], status["previous"]["version"]), ("2", "1"))
        status_code, body = self.http.admin("POST", "rollback?route=/p")
        self.assertEqual(status_code, 200, body)
        self.assertEqual((json.loads(body)["old"]["version"], json.loads(body)["new"]["version"]), ("2", "1"))
        self.assertEqual(self.http.get("/p")[1], "First version of code")
        self.assertEqual(self.http.admin("POST", "rollback?route=/p")[0], 409)
        status = json.loads(self.http.admin("GET", "status")[1])["routes"][0]
        self.assertEqual((status["current"]["version"], status["previous"]), ("1", None))

    def test_state_survives_swaps(self):
        self.module(example_module("visits"), "visits")
        self.start("/visits=visits", workers=1)  # module globals are per worker process
        for n in range(1, 4):
            self.assertEqual(self.http.get("/visits")[1], f"visit {n} served by version 1")
        self.module(test_module("visits_v2"), "visits")
        self.reload("/visits")
        self.assertEqual(self.http.get("/visits")[1], "visit 4 served by version 2")
        self.assertEqual(self.http.admin("POST", "rollback?route=/visits")[0], 200)
        self.assertEqual(self.http.get("/visits")[1], "visit 5 served by version 1")
        self.assertEqual(self.server.stop(), 0)

    def test_unload_hook_runs_when_a_retired_version_is_gone(self):
        marker = os.path.join(self.dir, "unloaded.txt")
        self.module(test_module("marker_v1"), "marker")
        self.start("/m=marker", env=dict(os.environ, REPLUG_TEST_UNLOAD_MARKER=marker))
        self.module(test_module("marker_v2"), "marker")
        self.reload("/m")  # v1 stays loaded as the rollback target
        self.assertFalse(os.path.exists(marker))
        self.module(test_module("marker_v3"), "marker")
        self.reload("/m")  # v1 leaves: no request runs in it, so it is unloaded now
        with open(marker) as f:  # in each of the two worker processes
            self.assertEqual(f.read(), "unloaded 1\n" * 2)
        self.assertEqual(self.http.get("/m")[1], "marker 3")

    def test_status_fields(self):
        self.module(example_module("hello"), "hello")
        self.start("/hello=hello")
        self.http.get("/hello")
        status = json.loads(self.http.admin("GET", "status")[1])
        self.assertEqual(status["pid"], self.server.pid)
        self.assertEqual(status["server"], "replugd")
        self.assertGreater(status["threads"], 0)
        self.assertGreaterEqual(status["uptime_s"], 0)
        route = status["routes"][0]
        self.assertEqual(route["requests"], 1)
        current = route["current"]
        path = os.path.join(self.modules, "hello.so")
        self.assertEqual(current["file"], path)
        self.assertEqual(current["inode"], os.stat(path).st_ino)
        self.assertEqual(current["size"], os.stat(path).st_size)
        self.assertEqual((current["version"], current["generation"], current["in_flight"]), ("1", 1, 0))
        self.assertRegex(current["loaded_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual((route["draining"], route["last_error"]), ([], None))

    def test_metrics_in_prometheus_text_format(self):
        self.module(example_module("pluggable"), "pluggable")
        self.module(test_module("throws"), "throws")
        self.start("/p=pluggable", '/t/*=throws')
        for _ in range(3):
            self.http.get("/p")
        self.http.get("/t/std")
        self.module(test_module("pluggable_v2"), "pluggable")
        self.reload("/p")
        with open(os.path.join(self.modules, "pluggable.so"), "wb") as f:
            f.write(b"broken")
        self.assertEqual(self.http.admin("POST", "reload?route=/p")[0], 422)
        status, body, headers = self.http.request("GET", "/-/metrics",
                                                  headers={"Authorization": "Bearer " + harness.TOKEN})
        self.assertEqual(status, 200, body)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        samples = parse_prometheus(body)
        p, t = frozenset({("route", "/p")}), frozenset({("route", "/t/*")})
        self.assertEqual(samples[("replug_requests_total", p)], 3)
        self.assertEqual(samples[("replug_errors_total", t)], 1)
        self.assertEqual(samples[("replug_request_duration_seconds_count", p)], 3)
        self.assertEqual(samples[("replug_reloads_total", p | {("result", "ok")})], 2)
        self.assertEqual(samples[("replug_reloads_total", p | {("result", "failed")})], 1)
        self.assertEqual(samples[("replug_generation", p)], 2)
        self.assertEqual(samples[("replug_swap_duration_seconds_count", frozenset())], 3)
        self.assertEqual(samples[("replug_workers_busy", frozenset())], 1)  # the one answering this request
        self.assertIn(("replug_in_flight_requests", p), samples)
        self.assertEqual(self.http.admin("GET", "metrics", token="wrong-token-0123456789")[0], 401)

    def test_admin_socket_answers_while_every_worker_is_busy(self):
        self.module(test_module("slow_v1"), "slow")
        control = "unix:" + os.path.join(self.dir, "admin.sock")
        server = self.replugd(["--module-path", self.modules, "--route", "/slow=slow", "--threads", "2",
                               "--admin-listen", control])
        self.assertEqual(os.stat(control[5:]).st_mode & 0o777, 0o600)
        holders = [fcgi_client.connect(server.address) for _ in range(2)]
        for sock in holders:
            self.addCleanup(sock.close)
            sock.sendall(fcgi_client.encode_request(fcgi_client.cgi_params("/slow", query="3000")))
        admin = {"Authorization": "Bearer " + harness.TOKEN}
        harness.wait_for(lambda: '"in_flight":2' in fcgi_client.request(control, "/-/status", headers=admin).text,
                         what="both workers busy, seen through the admin socket")
        self.module(test_module("slow_v2"), "slow")
        answer = fcgi_client.request(control, "/-/reload", method="POST", query="route=/slow", headers=admin)
        self.assertEqual(answer.status, 200, answer.text)
        self.assertEqual(json.loads(answer.text)["new"]["version"], "2")
        # Only admin there: routes are not served on the control socket.
        self.assertEqual(fcgi_client.request(control, "/slow", query="1").status, 404)
        for sock in holders:  # the held requests finish on the version they started with
            self.assertEqual(fcgi_client.read_response(sock).text, "slow 1 after 3000ms")
        self.assertEqual(server.stop(), 0)
        self.assertFalse(os.path.exists(control[5:]))

    def test_the_exposition_checker_catches_mistakes(self):
        for bad in ["x 1", "# TYPE x counter\nx{a=\"1} 1\n", "# TYPE x counter\nx 1\nx 2\n",
                    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 3\nh_sum 1\n"]:
            with self.assertRaises(AssertionError):
                parse_prometheus(bad)


if __name__ == "__main__":
    unittest.main()

"""Recycling worker processes and capping a route's concurrency, through the
real nginx with the shipped site: a worker past --max-requests, --max-rss or
--max-lifetime is replaced gracefully (its replacement serves before it stops
taking requests, then it drains), so no request fails for it; a route at its
--max-in-flight cap answers 503 with Retry-After while other routes serve."""

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import unittest

import fcgi_client
import harness
from harness import HTTP, example_module, test_module
from test_workers import children_of

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1 << 20
WRK = shutil.which("wrk")


def resident_bytes(pid):
    """PID's RSS now; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class Recycle(harness.WorkersBehindNginx):
    def get_once(self, path):
        """PATH through nginx on a connection of its own."""
        http = HTTP(self.front.port)
        try:
            return http.get(path)
        finally:
            http.close()

    def start(self, *routes, workers=2, threads=2, extra=(), config=None):
        if config is not None:
            self.config = os.path.join(self.dir, "replugd.conf")
            with open(self.config, "w") as f:
                f.write(config)
            extra = (*extra, "--config", self.config)
        super().start(*routes, workers=workers, threads=threads, extra=extra)

    def recycled(self, limit):
        return re.findall(rf"worker recycled slot=\d+ pid=\d+ -> \d+ {limit} ", self.server.log())

    def load(self, path, clients, stop):
        """clients_asking(); returns the threads and the answers, (status, body) each."""
        statuses = []
        return self.clients_asking(path, clients, stop, lambda status, body: statuses.append((status, body))), statuses

    def leak(self, clients, until_leaked, recycles):
        """CLIENTS ask /leak (8 MiB a request) until UNTIL_LEAKED bytes are leaked and RECYCLES workers
        were recycled for max-rss; returns the answers and each worker process's largest RSS, the
        draining ones' too."""
        stop = threading.Event()
        largest = {}

        def sample():
            while not stop.is_set():
                for pid in children_of(self.server.pid):
                    largest[pid] = max(largest.get(pid, 0), resident_bytes(pid))
                stop.wait(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        threads, answers = self.load("/leak", clients, stop)
        try:
            harness.wait_for(lambda: len(answers) * 8 * MIB > until_leaked and
                             len(self.recycled("max-rss")) >= recycles,
                             timeout=240, what=f"{until_leaked // MIB} MiB leaked, and {recycles} recycles")
        finally:
            stop.set()
            sampler.join()
            threads.join()
        return answers, largest

    def test_a_leaking_worker_is_recycled_at_max_rss_and_no_request_fails(self):
        self.module(test_module("leak"), "leak")
        self.module(example_module("hello"), "hello")
        self.start("/leak=leak", "/hello=hello", config="")
        workers = self.wait_serving()
        # 64 MiB as asked; a sanitizer's runtime alone may weigh more than that, so there: 64 above it.
        start_mib = max(w["rss_bytes"] for w in workers.values()) // MIB
        limit = 64 if start_mib < 32 else start_mib + 64
        with open(self.config, "w") as f:  # SIGHUP applies it
            f.write(f"max-rss = {limit}\n")
        self.server.send(signal.SIGHUP)
        harness.wait_for(lambda: f"max-rss={limit}MiB" in self.server.log(), what="the new limit")
        # What one worker may reach: twice the limit (past it, a worker stops taking requests at once,
        # however long its replacement takes to start), plus what its requests in flight add when it
        # looks: its 2 threads' and what nginx already sent on its kept connections, 8 MiB each. (When
        # only the master looked, every 100 ms, a worker was seen at 342 MiB against 64 on a loaded
        # machine, and at 1,143 MiB under ASan.)
        bound = (2 * limit + (128 if harness.SANITIZED else 64)) * MIB

        answers, largest = self.leak(2, until_leaked=4 * bound, recycles=4)
        self.assertEqual([a for a in answers if a != (200, "leaked 8 MiB")], [])
        leaked = len(answers) * 8 * MIB
        self.assertLess(max(largest.values()), bound, {pid: rss // MIB for pid, rss in largest.items()})
        self.assertGreater(leaked, 4 * bound)
        self.assertGreaterEqual(len(largest), 2 + 4)  # every recycle a new process
        ends = [w["previous_end"] for w in self.status()["workers"] if w["previous_end"]]
        self.assertIn({"reason": "recycled", "detail": "max-rss"}, ends)
        self.assertEqual(self.http.get("/hello")[:2], (200, "Hello from replug: GET /hello\n"))
        self.assertEqual(self.server.stop(), 0)

    def test_max_rss_given_at_start_bounds_a_leak_served_fast(self):
        # Four clients on one worker that leaks 8 MiB a request: faster than a replacement starts,
        # so it is the worker's own look at twice the limit that stops it.
        self.module(test_module("leak"), "leak")
        limit = 512 if harness.SANITIZED else 128  # above what a fresh worker holds
        self.start("/leak=leak", workers=1, threads=4, extra=("--max-rss", str(limit)))
        bound = (2 * limit + (256 if harness.SANITIZED else 128)) * MIB
        answers, largest = self.leak(4, until_leaked=4 * bound, recycles=3)
        self.assertEqual([a for a in answers if a != (200, "leaked 8 MiB")], [])
        self.assertLess(max(largest.values()), bound, {pid: rss // MIB for pid, rss in largest.items()})
        self.assertNotIn("is below what a worker holds", self.server.log())
        self.assertEqual(self.server.stop(), 0)

    def test_a_max_rss_below_a_fresh_worker_is_said_once_and_requests_are_served(self):
        self.module(example_module("hello"), "hello")
        self.start("/hello=hello", extra=("--max-rss", "1"))
        for _ in range(8):  # every worker retires after its first request: each is answered all the same
            self.assertEqual(self.get_once("/hello")[:2], (200, "Hello from replug: GET /hello\n"))
        harness.wait_for(lambda: len(self.recycled("max-rss")) >= 4, what="4 recycles")
        log = self.server.log()
        self.assertRegex(log, r"error --max-rss 1 MiB is below what a worker holds before it serves anything "
                              r"\(\d+ MiB, pid \d+\): every worker will be replaced as soon as it starts; raise it")
        self.assertEqual(log.count("is below what a worker holds"), 1, log)
        self.assertEqual(self.server.stop(), 0)

    @unittest.skipUnless(WRK, "wrk is not installed (packaging/install-deps test)")
    def test_workers_rotate_at_max_requests_under_wrk_and_no_request_fails(self):
        self.module(example_module("hello"), "hello")
        self.start("/hello=hello", extra=("--max-requests", "500"))
        before = {w["pid"] for w in self.wait_serving().values()}
        done = subprocess.run([WRK, "-t", "2", "-c", "8", "-d", "6s", f"http://127.0.0.1:{self.front.port}/hello"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn("Non-2xx or 3xx responses", done.stdout)
        self.assertNotIn("Socket errors", done.stdout)
        served = int(re.search(r"(\d+) requests in", done.stdout).group(1))
        self.assertGreater(served, 1000, done.stdout)
        recycles = self.recycled("max-requests")
        self.assertGreaterEqual(len(recycles), 2, self.server.log())
        # Slot 0 goes after 500, slot 1 after 750: never more recycles than the requests allow.
        self.assertLessEqual(len(recycles), served // 500 + 2)
        # The master looks every 100 ms: at 10,000 requests a second a worker
        # passes its limit by a thousand before it is seen. Once the load
        # stops, every worker past its limit is replaced (requests are
        # counted per process, from 0; slot 1's limit is 750).
        after = harness.wait_for(
            lambda: (lambda workers: all(w["requests"] < 750 for w in workers.values()) and workers)(
                self.wait_serving()),
            what="every serving worker under its limit")
        self.assertFalse(before & {w["pid"] for w in after.values()}, "a worker outlived its limit")
        ends = [w["previous_end"] for w in after.values()]
        self.assertIn({"reason": "recycled", "detail": "max-requests"}, ends)
        self.assertNotIn("crash route=", self.server.log())
        self.assertEqual(self.server.stop(), 0)

    def test_workers_rotate_at_max_lifetime(self):
        self.module(example_module("hello"), "hello")
        self.start("/hello=hello", extra=("--max-lifetime", "2"))
        first = self.wait_serving()
        stop = threading.Event()
        clients, answers = self.load("/hello", 2, stop)
        try:
            # Slot 0 after 2 s, slot 1 after 2.5 s; then again.
            harness.wait_for(lambda: len(self.recycled("max-lifetime")) >= 3, timeout=30, what="three recycles")
        finally:
            stop.set()
            clients.join()
        self.assertEqual({s for s, _ in answers}, {200})
        self.assertGreater(len(answers), 0)
        now = self.wait_serving()
        self.assertFalse({w["pid"] for w in first.values()} & {w["pid"] for w in now.values()})
        for worker in now.values():
            self.assertLess(worker["age_s"], 4)
            self.assertEqual(worker["previous_end"], {"reason": "recycled", "detail": "max-lifetime"})
            self.assertEqual(worker["previous_exit"], "recycled (max-lifetime)")
            self.assertGreater(worker["rss_bytes"], 0)
        # The recycled ones drained and exited 0.
        harness.wait_for(lambda: self.server.log().count("recycled worker drained") >= 3, what="the drains")
        self.assertNotIn("recycled worker ended", self.server.log())

    def test_reloads_while_workers_are_recycled_end_on_the_committed_table(self):
        # Reloads on the admin socket (a thread of its own) race the master's recycling: a replacement
        # that starts while a reload commits must serve what was committed, never the table before.
        self.module(example_module("pluggable"), "pluggable")
        control = "unix:" + os.path.join(self.dir, "admin.sock")
        self.start("/p=pluggable", extra=("--max-lifetime", "1", "--admin-listen", control))
        admin = {"Authorization": "Bearer " + harness.TOKEN}
        versions = [("2", test_module("pluggable_v2"), "Second version of code"),
                    ("3", test_module("pluggable_v3"), "Third version of code")]
        reloads = 0
        deadline = time.monotonic() + 60
        while reloads < 6 or len(self.recycled("max-lifetime")) < 4:
            self.assertLess(time.monotonic(), deadline, "too few recycles while reloading")
            version, source, text = versions[reloads % 2]
            self.module(source, "pluggable")
            answer = fcgi_client.request(control, "/-/reload", method="POST", query="route=/p", headers=admin)
            self.assertEqual(answer.status, 200, answer.text)
            self.assertEqual(json.loads(answer.text)["new"]["version"], version)
            reloads += 1
            for _ in range(10):  # straight to the socket, a new connection each: any worker may take it
                got = fcgi_client.request(self.server.address, "/p")
                self.assertEqual((got.status, got.text), (200, text), f"after reload {reloads}")
        self.assertNotIn("crash route=", self.server.log())

    def test_a_draining_worker_serves_what_a_reload_committed_meanwhile(self):
        # nginx keeps sending on the connections it holds to a recycled worker until that one closes
        # them; a reload committed meanwhile must reach it too.
        self.module(example_module("pluggable"), "pluggable")
        self.module(test_module("nap"), "nap")
        self.start("/p=pluggable", "/slow=nap", workers=1, config="")
        kept = fcgi_client.connect(self.server.address)
        self.addCleanup(kept.close)

        def on_kept(path):
            kept.sendall(fcgi_client.encode_request(fcgi_client.cgi_params(path), keep=True))
            return fcgi_client.read_response(kept)

        self.assertEqual(on_kept("/p").text, "First version of code")
        old = self.wait_serving(1)[0]["pid"]
        holder = fcgi_client.connect(self.server.address)  # keeps the old worker draining for 4 s
        self.addCleanup(holder.close)
        holder.sendall(fcgi_client.encode_request(fcgi_client.cgi_params("/slow", query="ms=4000")))
        harness.wait_for(lambda: self.serving()[0]["busy_threads"] == 1, what="the nap")
        with open(self.config, "w") as f:
            f.write("max-requests = 1\n")
        self.server.send(signal.SIGHUP)
        harness.wait_for(lambda: any(w["state"] == "draining" and w["pid"] == old for w in self.status()["workers"]),
                         what="the old worker to drain")
        with open(self.config, "w") as f:  # the replacement stays
            f.write("max-requests = 0\n")
        self.server.send(signal.SIGHUP)
        harness.wait_for(lambda: "max-requests=0 " in self.server.log(), what="recycling off")
        self.module(test_module("pluggable_v2"), "pluggable")
        status, body = self.http.admin("POST", "reload?route=/p")
        self.assertEqual(status, 200, body)
        self.assertIn(old, [w["pid"] for w in self.status()["workers"] if w["state"] == "draining"])
        self.assertEqual(on_kept("/p").text, "Second version of code")  # served by the draining worker
        # A module every worker refuses, the draining one too: the reload fails, and the draining
        # worker keeps what it serves (it was killed for it once, and its requests with it).
        self.module(test_module("hook_refuses"), "pluggable")
        status, body = self.http.admin("POST", "reload?route=/p")
        self.assertEqual(status, 422, body)
        self.assertIn("load hook refused", body)
        self.assertIn(old, [w["pid"] for w in self.status()["workers"] if w["state"] == "draining"])
        self.assertNotIn("killing it", self.server.log())
        self.assertEqual(fcgi_client.read_response(holder).text, "napped 4000ms")  # it was not killed
        harness.wait_for(lambda: f"recycled worker drained slot=0 pid={old} exited with status 0" in self.server.log(),
                         what="the drain")

    def test_status_says_why_the_worker_before_ended(self):
        self.module(test_module("crasher"), "crasher")
        self.start("/crash=crasher", extra=("--auto-rollback", "off"))
        for query, status, end in [("segv", 500, {"reason": "crash", "detail": "SIGSEGV"}),
                                   ("exit", 502, {"reason": "exit", "detail": "status 3"})]:
            before = {w["pid"] for w in self.wait_serving().values()}
            self.assertEqual(self.get_once("/crash?" + query)[0], status)
            after = harness.wait_for(lambda: before != {w["pid"] for w in self.wait_serving().values()} and
                                     self.serving(), what="the replacement")
            replaced = [w for w in after.values() if w["pid"] not in before]
            # nginx tries /crash?exit (no answer at all) a second time, on the other worker.
            self.assertTrue(replaced)
            self.assertEqual([w["previous_end"] for w in replaced], [end] * len(replaced))
        for worker in self.status()["workers"]:
            self.assertGreaterEqual(worker["age_s"], 0)
            self.assertGreater(worker["rss_bytes"], 1 << 20)

    def over_the_cap(self, workers):
        self.module(test_module("nap"), "nap")
        self.module(example_module("hello"), "hello")
        self.start("/slow=nap", "/hello=hello", workers=workers, threads=4, extra=("--max-in-flight", "/slow=2"))

        def route():
            return next(r for r in self.status()["routes"] if r["route"] == "/slow")

        held = []
        holders = harness.ClientThreads([lambda: held.append(self.get_once("/slow?ms=4000"))] * 2)
        harness.wait_for(lambda: route()["in_flight"] == 2, what="two requests in /slow")
        refused = [self.get_once("/slow?ms=10") for _ in range(2)]
        for status, body, headers in refused:
            self.assertEqual(status, 503, body)
            self.assertEqual(headers.get("Retry-After"), "1")
            self.assertIn("too many requests in this route", body)
        for _ in range(5):  # other routes serve meanwhile
            self.assertEqual(self.http.get("/hello")[:2], (200, "Hello from replug: GET /hello\n"))
        holders.join()
        self.assertEqual([h[:2] for h in held], [(200, "napped 4000ms")] * 2)
        self.assertEqual(self.get_once("/slow?ms=1")[:2], (200, "napped 1ms"))  # room again
        self.assertEqual(route()["rejected"], 2)
        _, metrics = self.http.admin("GET", "metrics")
        self.assertIn('replug_requests_rejected_total{route="/slow",reason="max-in-flight"} 2\n', metrics)
        self.assertIn('replug_requests_rejected_total{route="/hello",reason="max-in-flight"} 0\n', metrics)

    def test_max_in_flight_answers_503_beyond_the_cap_with_workers(self):
        self.over_the_cap(workers=2)
        # A worker that dies with requests inside leaves the gate: the cap is not used up for good.
        def hold():  # straight to the socket: nginx would retry a request whose worker died
            try:
                fcgi_client.request(self.server.address, "/slow", query="ms=10000", timeout=30)
            except (OSError, EOFError, ValueError):
                pass  # its worker was killed under it

        holders = harness.ClientThreads([hold] * 2)
        harness.wait_for(lambda: sum(w["busy_threads"] for w in self.status()["workers"]) == 2, what="two naps")
        killed = {w["pid"] for w in self.status()["workers"] if w["busy_threads"]}
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        holders.join()
        harness.wait_for(lambda: not killed & {w["pid"] for w in self.wait_serving().values()},
                         what="the killed workers' replacements")
        both = harness.ClientThreads([lambda: self.assertEqual(self.get_once("/slow?ms=500")[:2],
                                                               (200, "napped 500ms"))] * 2)
        both.join()

    def test_max_in_flight_answers_503_beyond_the_cap_in_one_process(self):
        self.over_the_cap(workers=0)


class Options(harness.TestCase):
    def test_bad_values_are_refused_with_the_option_named(self):
        self.module(example_module("hello"), "hello")
        for args, message in [
            (["--max-requests", "-1"], "--max-requests: '-1' is not a whole number from 0 to "),
            (["--max-requests", "lots"], "--max-requests: 'lots' is not a whole number from 0 to "),
            (["--max-rss", "64M"], "--max-rss: '64M' is not a whole number from 0 to 1048576"),
            (["--max-lifetime", "-2"], "--max-lifetime: '-2' is not a whole number from 0 to "),
            (["--max-in-flight", "/nope=2"], "--max-in-flight: '/nope=2': no route /nope"),
            (["--max-in-flight", "/hello=0"], "--max-in-flight: '/hello=0': N is not a whole number from 1 to"),
            (["--max-in-flight", "/hello"], "--max-in-flight: '/hello': expected PATH=N"),
        ]:
            done = harness.subprocess.run([harness.REPLUGD, "--listen", "127.0.0.1:1", "--module-path", self.modules,
                                           "--route", "/hello=hello", *args],
                                          capture_output=True, text=True, timeout=10)
            self.assertEqual((done.returncode, done.stdout), (2, ""), args)
            self.assertEqual(done.stderr.count("\n"), 1, done.stderr)
            self.assertIn(message, done.stderr)

    def test_a_bad_value_on_sighup_keeps_everything_as_it_was(self):
        self.module(example_module("hello"), "hello")
        config = os.path.join(self.dir, "replugd.conf")
        with open(config, "w") as f:
            f.write("route = /hello=hello\nmax-requests = 1000\n")
        server = self.replugd(["--config", config, "--module-path", self.modules, "--workers", "2"])
        with open(config, "w") as f:
            f.write("route = /hello=hello\nmax-requests = -5\n")
        server.send(signal.SIGHUP)
        harness.wait_for(lambda: "SIGHUP reload refused" in server.log(), what="the refusal")
        self.assertIn("max-requests: '-5' is not a whole number", server.log())
        self.assertNotIn("recycling limits:", server.log())
        self.assertEqual(server.request("/hello").status, 200)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()

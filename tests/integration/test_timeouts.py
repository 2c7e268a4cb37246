"""Handler timeouts and the slow log, through the real nginx with the shipped
site: a handler past its route's --handler-timeout is answered 504 by the
watchdog, its worker retires (its other requests finish) and is replaced,
a worker whose handler will not let go is killed at timeout + grace, and
--slow-log logs a slow call once. Timeouts of about a second keep it short."""

import json
import os
import re
import signal
import threading
import time
import unittest

import harness
from harness import HTTP, example_module, test_module


def alive(pid):
    """True while PID exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Timeouts(harness.WorkersBehindNginx):
    def start(self, *routes, workers=2, threads=2, extra=()):
        self.module(example_module("hello"), "hello")
        self.module(test_module("spin"), "spin")
        self.module(test_module("slow_v1"), "slow")
        super().start(*routes, workers=workers, threads=threads, extra=extra)

    def timed_get(self, path):
        """GET PATH on a connection of its own: (status, body, seconds)."""
        http = HTTP(self.front.port, timeout=30)
        try:
            started = time.monotonic()
            status, body, _ = http.get(path)
            return status, body, time.monotonic() - started
        finally:
            http.close()

    def test_a_spinning_handler_gets_504_and_its_worker_is_replaced(self):
        # One worker, so that the slow request surely shares it with the spinner.
        self.start("/hello=hello", "/spin=spin", "/slow=slow", workers=1, threads=4,
                   extra=("--handler-timeout", "/spin=1"))
        [old] = self.serving_pids()
        stop = threading.Event()
        client, answers = self.load_by_status("/hello", 1, stop)
        slow = {}
        try:
            harness.wait_for(lambda: len(answers.get(200, [])) > 20, what="load on /hello")
            slow_thread = threading.Thread(target=lambda: slow.update(answer=self.timed_get("/slow?2000")))
            slow_thread.start()
            harness.wait_for(lambda: self.route("/slow")["in_flight"] == 1, what="the slow request to start")
            status, body, seconds = self.timed_get("/spin?spin")
            slow_thread.join()
            # The route serves again, from the replacement.
            harness.wait_for(lambda: self.serving_pids() not in ([], [old]), what="a replacement", timeout=15)
            served_before_stop = len(answers.get(200, []))
            harness.wait_for(lambda: len(answers.get(200, [])) > served_before_stop + 20, what="load on the replacement")
        finally:
            stop.set()
            client.join()
        self.assertEqual((status, body), (504, "Gateway Timeout: the handler did not answer in time\n"))
        # Never before the timeout; after it, by the watchdog (it scans every 100 ms, but on a loaded
        # machine it may run late: 1.56 s was seen), well before the master's kill at timeout + grace (6 s).
        self.assertGreaterEqual(seconds, 0.9)
        self.assertLess(seconds, 4)
        self.assertEqual(slow["answer"][:2], (200, "slow 1 after 2000ms"))
        self.assertEqual({s: len(b) for s, b in answers.items() if s != 200}, {})
        self.assertTrue(all(b == "Hello from replug: GET /hello\n" for b in answers[200]))
        self.assertEqual(self.timed_get("/spin?fine")[:2], (200, "spin ok"))
        self.assertFalse(alive(old))

        log = self.server.log()
        timed_out = re.search(r"handler timeout route=/spin module=spin version=1 generation=1 "
                              r"elapsed=(\d+\.\d+)s timeout=1\.000s answered=504 thread=\d+ wchan=\S+ syscall=running", log)
        self.assertTrue(timed_out, log)
        self.assertGreaterEqual(float(timed_out.group(1)), 1.0)
        self.assertEqual(log.count("handler timeout route=/spin"), 1)
        self.assertRegex(log, rf"worker retiring slot=0 pid={old} reason=timeout route=/spin")
        spin = self.route("/spin")
        self.assertEqual((spin["timeouts"], spin["crashes"]), (1, 0))
        self.assertEqual(self.route("/slow")["timeouts"], 0)
        [worker] = self.status()["workers"]
        self.assertRegex(worker["previous_exit"], r"^timeout on route /spin \(exited with status 0\)$")
        status, metrics = self.http.admin("GET", "metrics")
        self.assertIn('replug_handler_timeouts_total{route="/spin"} 1\n', metrics)
        self.assertIn('replug_handler_timeouts_total{route="/hello"} 0\n', metrics)
        self.assertIn('replug_handler_crashes_total{route="/spin"} 0\n', metrics)
        self.assertNotIn("crash route=", log)
        self.assertEqual(self.server.stop(), 0)

    def test_a_spinner_with_every_signal_blocked_is_gone_by_timeout_plus_grace(self):
        self.start("/hello=hello", "/spin=spin", workers=2, threads=2,
                   extra=("--handler-timeout", "1", "--handler-timeout-grace", "2"))
        before = self.serving_pids()
        started = time.monotonic()
        status, _, seconds = self.timed_get("/spin?blocked")
        self.assertEqual(status, 504)
        self.assertLess(seconds, 1 + 2 - 0.5)  # the watchdog's, well before the kill at timeout + grace
        retired = int(harness.wait_for(lambda: re.search(r"worker retiring slot=\d+ pid=(\d+)", self.server.log()),
                                       what="the retiring worker").group(1))
        self.assertIn(retired, before)
        harness.wait_for(lambda: not alive(retired), what="the worker to be gone", timeout=1 + 2 + 2)
        self.assertLessEqual(time.monotonic() - started, 1 + 2 + 2)
        harness.wait_for(lambda: len(self.serving_pids()) == 2 and retired not in self.serving_pids(),
                         what="its replacement")
        for _ in range(10):
            self.assertEqual(self.http.get("/spin?fine")[:2], (200, "spin ok"))
        self.assertEqual(self.route("/spin")["timeouts"], 1)

    def test_a_wedged_worker_is_killed_at_timeout_plus_grace(self):
        # ?stop stops the whole worker (SIGSTOP): its watchdog cannot answer; the master kills it.
        self.start("/hello=hello", "/spin=spin", workers=2, threads=2,
                   extra=("--handler-timeout", "/spin=1", "--handler-timeout-grace", "1"))
        before = self.serving_pids()
        started = time.monotonic()
        answer = {}
        request = threading.Thread(target=lambda: answer.update(got=self.timed_get("/spin?stop")))
        request.start()
        killed_line = r"worker killed slot=\d+ pid=(\d+): a handler of route=/spin still runs (\d+\.\d+)s after " \
                      r"it started \(timeout 1\.00s \+ grace 1\.00s\); requests lost=1 \(its watchdog answered none"
        killed = harness.wait_for(lambda: re.search(killed_line, self.server.log()), what="the kill", timeout=5)
        self.assertGreaterEqual(time.monotonic() - started, 1 + 1 - 0.1)
        # Killed at timeout + grace by the master's own clock (it looks every 100 ms; a loaded machine may
        # delay it some); the wall clock here also counts nginx and the polling of the log.
        self.assertGreaterEqual(float(killed.group(2)), 1 + 1)
        self.assertLess(float(killed.group(2)), 1 + 1 + 1)
        self.assertLess(time.monotonic() - started, 1 + 1 + 3)
        # nginx may retry the request once on the other worker (the connection was kept alive), which
        # stops too and is killed in turn; either way the client gets 502, no answer came.
        request.join()
        self.assertEqual(answer["got"][0], 502)
        pid = int(killed.group(1))
        self.assertIn(pid, before)
        harness.wait_for(lambda: not alive(pid), what="the wedged worker to be gone")
        harness.wait_for(lambda: len(self.serving_pids()) == 2 and pid not in self.serving_pids(),
                         what="its replacement")
        self.assertLess(time.monotonic() - started, 10)
        workers = self.status()["workers"]
        self.assertIn("timeout on route /spin, wedged; killed at timeout + grace, 1 request(s) lost (killed by SIGKILL)",
                      [w["previous_exit"] for w in workers])
        self.assertEqual(self.route("/spin")["crashes"], 0)
        self.assertEqual(self.http.get("/spin?fine")[:2], (200, "spin ok"))

    def test_the_slow_log_logs_a_slow_call_once(self):
        self.start("/hello=hello", "/slow=slow", workers=2, threads=2, extra=("--slow-log", "0.5"))
        status, body, seconds = self.timed_get("/slow?2000")
        self.assertEqual((status, body), (200, "slow 1 after 2000ms"))
        self.assertEqual(self.http.get("/hello")[0], 200)
        log = self.server.log()
        self.assertEqual(len(re.findall(r"slow request route=/slow", log)), 1, log)
        slow = re.search(r"slow request route=/slow module=slow version=1 generation=1 elapsed=(\d+\.\d+)s "
                         r"slow_log=0\.500s thread=\d+ wchan=\S+ syscall=\S+", log)
        self.assertTrue(slow, log)
        # Logged while it ran: past the slow log, before the handler's 2 s were up.
        self.assertGreaterEqual(float(slow.group(1)), 0.5)
        self.assertLess(float(slow.group(1)), 2.0)
        self.assertEqual(self.route("/slow")["slow_requests"], 1)
        self.assertEqual(self.route("/slow")["timeouts"], 0)
        status, metrics = self.http.admin("GET", "metrics")
        self.assertIn('replug_slow_requests_total{route="/slow"} 1\n', metrics)
        self.assertIn('replug_slow_requests_total{route="/hello"} 0\n', metrics)
        self.assertEqual(len(self.serving_pids()), 2)  # a slow call retires nobody
        self.assertNotIn("worker retiring", log)

    def test_sighup_rereads_the_timeouts(self):
        config = os.path.join(self.dir, "replugd.conf")
        with open(config, "w") as f:
            f.write("handler-timeout = /slow=30\n")
        self.start("/hello=hello", "/slow=slow", workers=2, threads=2, extra=("--config", config))
        self.assertEqual(self.timed_get("/slow?1200")[:2], (200, "slow 1 after 1200ms"))
        with open(config, "w") as f:
            f.write("handler-timeout = /slow=0.5\n")
        self.server.send(signal.SIGHUP)
        harness.wait_for(lambda: self.route("/slow")["current"]["generation"] == 2, what="the SIGHUP reload")
        status, _, seconds = self.timed_get("/slow?3000")
        self.assertEqual(status, 504)  # under the old 30 s timeout it would be 200 after 3 s
        self.assertLess(seconds, 2.5)


class SingleProcess(harness.TestCase):
    def test_a_spinning_handler_gets_504_in_one_process_too(self):
        self.module(example_module("hello"), "hello")
        self.module(test_module("spin"), "spin")
        server = self.replugd(["--workers", "0", "--threads", "2", "--module-path", self.modules,
                               "--listen-group", "www-data", "--handler-timeout", "/spin=1",
                               "--route", "/hello=hello", "--route", "/spin=spin"])
        front = self.nginx(server.address)
        http = HTTP(front.port)
        self.addCleanup(http.close)
        started = time.monotonic()
        spinner = HTTP(front.port)
        self.addCleanup(spinner.close)
        status, body, _ = spinner.get("/spin?spin")
        self.assertEqual((status, body), (504, "Gateway Timeout: the handler did not answer in time\n"))
        self.assertLess(time.monotonic() - started, 4)
        # The stuck thread stays stuck (nothing can be killed in one process); the other one serves.
        for _ in range(5):
            self.assertEqual(http.get("/hello")[:2], (200, "Hello from replug: GET /hello\n"))
        status, body = http.admin("GET", "status")
        spin = next(r for r in json.loads(body)["routes"] if r["route"] == "/spin")
        self.assertEqual(spin["timeouts"], 1)
        # The watchdog logs after it answered: wait for the line.
        line = re.compile(r"handler timeout route=/spin module=spin version=1 generation=1 "
                          r"elapsed=(\d+\.\d+)s timeout=1\.000s answered=504 thread=\d+ wchan=\S+")
        logged = harness.wait_for(lambda: line.search(server.log()), what="the timeout's log line")
        self.assertGreaterEqual(float(logged.group(1)), 1.0)
        # SIGTERM does not wait out the drain timeout for it.
        stopping = time.monotonic()
        self.assertEqual(server.stop(), 0)
        self.assertLess(time.monotonic() - stopping, 5)


class Options(harness.TestCase):
    def test_bad_values_are_refused_with_the_option_named(self):
        route = ["--route", "/spin=spin"]
        for args, message in [
            (["--handler-timeout", "-1"], "--handler-timeout: '-1' is not a number of seconds from 0 to 86400"),
            (["--handler-timeout", "soon"], "--handler-timeout: 'soon' is not a number of seconds"),
            (["--handler-timeout", "/spin=1e3"], "--handler-timeout: '1e3' is not a number of seconds"),
            (["--handler-timeout", "/nowhere=1"], "--handler-timeout: /nowhere is not the path of any --route"),
            (["--handler-timeout", "/spin=1", "--handler-timeout", "/spin=2"], "--handler-timeout: /spin is given twice"),
            (["--slow-log", "-0.5"], "--slow-log: '-0.5' is not a number of seconds"),
            (["--handler-timeout-grace", "nan"], "--handler-timeout-grace: 'nan' is not a number of seconds"),
        ]:
            done = harness.subprocess.run([harness.REPLUGD, "--listen", "127.0.0.1:1", *route, *args],
                                          capture_output=True, text=True, timeout=10)
            self.assertEqual((done.returncode, done.stdout), (2, ""), args)
            self.assertEqual(done.stderr.count("\n"), 1, done.stderr)
            self.assertIn(message, done.stderr)


if __name__ == "__main__":
    unittest.main()

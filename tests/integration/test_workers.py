"""Worker processes, through the real nginx with the shipped site: a handler
that crashes costs only its own request, the master replaces the worker and
counts the crash, a version that keeps crashing rolls itself back, a reload
is one transaction over every worker, and SIGTERM leaves nothing behind."""

import json
import os
import re
import signal
import threading
import time
import unittest

import fcgi_client
import harness
from harness import HTTP, example_module, test_module

CRASHES = ["segv", "abort", "fpe", "stack", "bus", "ill"]


def children_of(pid):
    """Pids whose parent is PID, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


class Workers(harness.WorkersBehindNginx):
    def test_a_crashing_handler_costs_only_its_own_request(self):
        self.module(example_module("hello"), "hello")
        self.module(test_module("crasher"), "crasher")
        # Crashing on purpose, again and again: neither rolled back nor answered 503 here.
        self.start("/hello=hello", "/crash=crasher", workers=2, threads=4, extra=("--auto-rollback", "off"))
        master = self.server.pid
        stop = threading.Event()
        clients, answers = self.load_by_status("/hello", 8, stop)
        crash_answers = []
        try:
            harness.wait_for(lambda: len(answers.get(200, [])) > 100, what="load on /hello")
            for how in CRASHES:
                before = self.serving_pids()
                status, body, _ = HTTP(self.front.port).get("/crash?" + how)
                crash_answers.append((how, status, body))
                # The master replaces the worker at once.
                harness.wait_for(lambda: len(self.serving_pids()) == 2 and self.serving_pids() != before,
                                 what=f"a replacement after ?{how}")
            served_before_stop = len(answers.get(200, []))
        finally:
            stop.set()
            clients.join()
        failed = {s: len(b) for s, b in answers.items() if s != 200}
        # nginx retries a request that fails on a kept-alive connection, not one it sent on a connection
        # it had just opened: when the dying worker had accepted that connection, the request is lost.
        # In a release build the window is too short to hit here; under a sanitizer a worker takes
        # longer to die, and one such request in a run has been seen (CI, ASan).
        allowed = 1 if harness.SANITIZED else 0
        self.assertLessEqual(sum(failed.values()), allowed, f"requests to /hello failed: {failed}")
        self.assertEqual(set(failed) - {502}, set(), failed)
        self.assertGreater(len(answers[200]), served_before_stop // 2)
        self.assertTrue(all(body == "Hello from replug: GET /hello\n" for body in answers[200]))
        for how, status, body in crash_answers:
            self.assertEqual((how, status), (how, 500), body)
        self.assertEqual(self.server.pid, master)
        self.assertTrue(self.server.running())
        # The master never maps module code: only its workers do.
        with open(f"/proc/{master}/maps") as f:
            self.assertNotIn("memfd:replug:", f.read())
        for pid in self.serving_pids():
            with open(f"/proc/{pid}/maps") as f:
                self.assertIn("memfd:replug:crasher", f.read())

        route = self.route("/crash")
        self.assertEqual(route["crashes"], len(CRASHES))
        log = self.server.log()
        for signal_name in ["SIGSEGV", "SIGABRT", "SIGFPE", "SIGBUS", "SIGILL"]:
            self.assertRegex(log, rf"crash route=/crash module=crasher version=1 generation=1 "
                                  rf"signal={signal_name} worker=\d+ in_flight=\d+")
        self.assertEqual(len(re.findall(r"crash route=/crash .* signal=SIGSEGV", log)), 2)  # segv and stack
        status, metrics = self.http.admin("GET", "metrics")
        self.assertIn(f'replug_handler_crashes_total{{route="/crash"}} {len(CRASHES)}\n', metrics)
        self.assertIn('replug_handler_crashes_total{route="/hello"} 0\n', metrics)
        # Nothing counted is lost with a worker: every /hello the clients got is counted.
        self.assertGreaterEqual(self.route("/hello")["requests"], sum(len(b) for b in answers.values()))
        self.assertEqual(self.server.stop(), 0)

    def test_exit_and_sigkill_are_counted_as_uncertain(self):
        self.module(test_module("crasher"), "crasher")
        self.module(test_module("slow_v1"), "slow")
        self.start("/crash=crasher", "/slow=slow", workers=2, threads=2)
        status, _, _ = HTTP(self.front.port).get("/crash?exit")
        self.assertEqual(status, 502)  # exit() writes nothing: nginx has no answer
        harness.wait_for(lambda: "crash route=/crash" in self.server.log(), what="the exit to be logged")
        self.assertRegex(self.server.log(), r"crash route=/crash .*signal=exited with status 3 worker=\d+ "
                                            r"in_flight=\d+ uncertain=true")
        self.wait_all_serving()

        # A worker killed from outside while a handler runs.
        slow = threading.Thread(target=lambda: HTTP(self.front.port).get("/slow?5000"))
        slow.start()
        harness.wait_for(lambda: any(w["busy_threads"] for w in self.status()["workers"]), what="the slow request")
        busy = next(w["pid"] for w in self.status()["workers"] if w["busy_threads"])
        os.kill(busy, signal.SIGKILL)
        slow.join()
        harness.wait_for(lambda: "signal=SIGKILL" in self.server.log(), what="the kill to be logged")
        self.assertRegex(self.server.log(), rf"crash route=/slow .*signal=SIGKILL worker={busy} .*uncertain=true")
        pids = self.wait_all_serving()
        self.assertNotIn(busy, pids)
        workers = self.status()["workers"]
        self.assertIn("killed by SIGKILL", [w["previous_exit"] for w in workers])
        self.assertEqual(self.http.get("/crash?fine")[:2], (200, "crasher ok"))

    def test_a_version_that_keeps_crashing_rolls_itself_back(self):
        self.module(example_module("pluggable"), "pluggable")
        self.start("/p=pluggable", workers=2, threads=2)
        good_sha = self.route("/p")["current"]["sha256"]
        self.module(test_module("crash_always"), "pluggable")
        status, body = self.http.admin("POST", "reload?route=/p")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["new"]["version"], "crashes")

        # Clients keep asking; the bad version is rolled back after a handful of failures.
        answers = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, body, _ = HTTP(self.front.port).get("/p")
            answers.append((status, body))
            if (status, body) == (200, "First version of code"):
                break
        failed = [a for a in answers if a[0] != 200]
        self.assertEqual(answers[-1], (200, "First version of code"), answers)
        self.assertLessEqual(len(failed), 8, answers)  # "within a handful of failed requests"
        route = self.route("/p")
        self.assertEqual(route["current"]["version"], "1")
        self.assertEqual(route["current"]["sha256"], good_sha)
        # Two crashes set it off; a third may land on the other worker before the rollback commits.
        self.assertRegex(route["last_error"]["reason"], r"^rolled back: [23] crashes \(SIGSEGV\) within \d+ s of the swap$")
        self.assertRegex(self.server.log(), r"rollback route=/p module=pluggable crashes -> 1 generation=1 "
                                            r"automatic: rolled back: [23] crashes \(SIGSEGV\)")
        for _ in range(20):
            self.assertEqual(self.http.get("/p")[:2], (200, "First version of code"))

        # A reload of everything (SIGHUP) keeps the route as it is.
        self.server.send(signal.SIGHUP)
        harness.wait_for(lambda: "route=/p keeps generation 1" in self.server.log(), what="the SIGHUP")
        self.assertEqual(self.route("/p")["current"]["generation"], 1)
        # The same bytes are refused from now on, unless forced.
        status, body = self.http.admin("POST", "reload?route=/p")
        self.assertEqual(status, 422, body)
        self.assertRegex(json.loads(body)["error"], r"was rolled back: [23] crashes \(SIGSEGV\)")
        self.assertIn("force=1", json.loads(body)["error"])
        self.assertEqual(self.http.get("/p")[:2], (200, "First version of code"))
        status, body = self.http.admin("POST", "reload?route=/p&force=1")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.http.admin("POST", "rollback?route=/p")[0], 200)
        # A fixed build is accepted as usual.
        self.module(test_module("pluggable_v2"), "pluggable")
        status, body = self.http.admin("POST", "reload?route=/p")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.http.get("/p")[:2], (200, "Second version of code"))
        self.assertEqual(self.server.stop(), 0)

    def test_a_crashing_route_with_nothing_to_roll_back_to_answers_503(self):
        self.module(test_module("crash_always"), "crashing")
        self.module(example_module("hello"), "hello")
        self.start("/c=crashing", "/hello=hello", workers=2, threads=2)
        answers = []
        while len(answers) < 20 and (not answers or answers[-1][0] != 503):
            answers.append(HTTP(self.front.port).get("/c"))
        status, body, headers = answers[-1]
        self.assertEqual(status, 503, answers)
        # Two crashes set it off; a request or two more may reach a worker before the change commits.
        self.assertLessEqual(len(answers), 8, [a[:2] for a in answers])
        self.assertIn(int(headers["Retry-After"]), range(1, 11))
        self.assertIn("keeps crashing", body)
        self.assertRegex(self.route("/c")["last_error"]["reason"],
                         r"^answers 503 for 10 s: 2 crashes \(SIGSEGV\) within 10 s, and no previous version")
        crashes = self.route("/c")["crashes"]
        for _ in range(10):  # no worker burns for it meanwhile
            self.assertEqual(HTTP(self.front.port).get("/c")[0], 503)
            self.assertEqual(self.http.get("/hello")[:2], (200, "Hello from replug: GET /hello\n"))
        self.assertEqual(self.route("/c")["crashes"], crashes)
        # A reload (a fixed build) ends it.
        self.module(example_module("pluggable"), "crashing")
        self.assertEqual(self.http.admin("POST", "reload?route=/c")[0], 200)
        self.assertEqual(self.http.get("/c")[:2], (200, "First version of code"))

    def test_after_a_reload_answers_every_new_connection_sees_the_new_version(self):
        self.module(example_module("pluggable"), "pluggable")
        self.start("/p=pluggable", workers=4, threads=2)
        self.wait_all_serving(4)
        for version, source in [("2", test_module("pluggable_v2")), ("3", test_module("pluggable_v3"))]:
            self.module(source, "pluggable")
            status, body = self.http.admin("POST", "reload?route=/p")
            self.assertEqual(status, 200, body)
            words = {"2": "Second", "3": "Third"}[version]
            for _ in range(40):  # straight to the socket, a new connection each: any worker may take it
                answer = fcgi_client.request(self.server.address, "/p")
                self.assertEqual((answer.status, answer.text), (200, f"{words} version of code"))

    def test_a_load_hook_that_refuses_in_one_worker_refuses_everywhere(self):
        refuse = os.path.join(self.dir, "refuse.pid")
        self.module(example_module("pluggable"), "pluggable")
        self.start("/p=pluggable", workers=2, threads=2, env=dict(os.environ, REPLUG_TEST_REFUSE_PID=refuse))
        pids = self.wait_all_serving()
        with open(refuse, "w") as f:
            f.write(f"{pids[1]}\n")
        self.module(test_module("hook_refuses_in_one"), "pluggable")
        status, body = self.http.admin("POST", "reload?route=/p")
        self.assertEqual(status, 422, body)
        self.assertIn("database not reachable from this worker", json.loads(body)["error"])
        for _ in range(20):
            answer = fcgi_client.request(self.server.address, "/p")
            self.assertEqual((answer.status, answer.text), (200, "First version of code"))
        self.assertEqual(self.route("/p")["current"]["generation"], 1)
        self.assertEqual(self.serving_pids(), pids)  # nobody died for it

        os.unlink(refuse)
        status, body = self.http.admin("POST", "reload?route=/p")
        self.assertEqual(status, 200, body)
        for _ in range(20):
            answer = fcgi_client.request(self.server.address, "/p")
            self.assertEqual((answer.status, answer.text), (200, "hooked 3"))

    def test_a_replacement_loads_the_committed_table(self):
        self.module(example_module("pluggable"), "pluggable")
        self.start("/p=pluggable", workers=2, threads=2)
        self.module(test_module("pluggable_v2"), "pluggable")
        self.assertEqual(self.http.admin("POST", "reload?route=/p")[0], 200)
        # The file on disk changes again, without a reload: a new worker must not pick it up.
        self.module(test_module("pluggable_v3"), "pluggable")
        for pid in self.wait_all_serving():
            os.kill(pid, signal.SIGKILL)
        harness.wait_for(lambda: self.server.log().count("worker started") >= 4, what="two replacements")
        self.wait_all_serving()
        for _ in range(20):
            answer = fcgi_client.request(self.server.address, "/p")
            self.assertEqual((answer.status, answer.text), (200, "Second version of code"))

    def test_sigterm_under_load_exits_zero_and_leaves_nothing(self):
        self.module(example_module("hello"), "hello")
        self.start("/hello=hello", workers=3, threads=2)
        pids = self.wait_all_serving(3)
        self.assertEqual(sorted(children_of(self.server.pid)), pids)
        stop = threading.Event()
        clients, answers = self.load_by_status("/hello", 4, stop)
        harness.wait_for(lambda: len(answers.get(200, [])) > 50, what="load")
        try:
            self.assertEqual(self.server.stop(), 0)
        finally:
            stop.set()
            try:
                clients.join()
            except AssertionError:
                pass  # clients see nginx's 502 once replugd is gone; not what this test is about
        for pid in pids:
            self.assertFalse(os.path.exists(f"/proc/{pid}"), f"worker {pid} left running")
        self.assertFalse(os.path.exists(self.server.address[len("unix:"):]))


class SingleProcess(harness.TestCase):
    def test_the_admin_endpoints_answer_from_the_first_request_on(self):
        # --workers 0 once served before it mounted the admin endpoints: 404 in 2 of 20 startups.
        self.module(example_module("hello"), "hello")
        for attempt in range(10):
            workdir = os.path.join(self.dir, f"run{attempt}")
            os.makedirs(workdir)
            server = self.replugd(["--workers", "0", "--module-path", self.modules, "--route", "/hello=hello"],
                                  workdir=workdir, wait=False)
            harness.wait_for(lambda: harness.can_connect(server.address), what="the socket")
            answer = fcgi_client.request(server.address, "/-/status",
                                         headers={"Authorization": "Bearer " + harness.TOKEN})
            self.assertEqual(answer.status, 200, f"startup {attempt}: {answer.text}")
            self.assertEqual(server.stop(), 0)


class Options(harness.TestCase):
    def test_bad_counts_are_refused_with_the_option_named(self):
        for args, message in [
            (["--workers", "-1"], "--workers: '-1' is not a whole number from 0 to 256"),
            (["--workers", "two"], "--workers: 'two' is not a whole number from 0 to 256"),
            (["--workers", "257"], "--workers: '257' is not a whole number from 0 to 256"),
            (["--threads", "0"], "--threads: '0' is not a whole number from 1 to 1024"),
            (["--threads", "1.5"], "--threads: '1.5' is not a whole number from 1 to 1024"),
            (["--auto-rollback", "2:10"], "--auto-rollback: expected CRASHES:WINDOW:GRACE (e.g. 2:10:60) or off"),
        ]:
            done = harness.subprocess.run([harness.REPLUGD, "--listen", "127.0.0.1:1", *args],
                                          capture_output=True, text=True, timeout=10)
            self.assertEqual((done.returncode, done.stdout), (2, ""), args)
            self.assertEqual(done.stderr.count("\n"), 1, done.stderr)
            self.assertIn(message, done.stderr)

    def test_more_routes_than_one_message_carries_are_refused_at_start(self):
        self.module(example_module("hello"), "hello")
        routes = sum((["--route", f"/r{i}=hello"] for i in range(251)), [])
        done = harness.subprocess.run([harness.REPLUGD, "--listen", "unix:" + os.path.join(self.dir, "s.sock"),
                                       "--module-path", self.modules, "--workers", "2", *routes],
                                      capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("251 routes: with worker processes, at most 250 (or --workers 0)", done.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "s.sock")))

    def test_help_says_threads_are_per_worker(self):
        done = harness.subprocess.run([harness.REPLUGD, "--help"], capture_output=True, text=True, timeout=10)
        self.assertIn("--workers N", done.stdout)
        self.assertIn("threads per worker process", done.stdout)


if __name__ == "__main__":
    unittest.main()

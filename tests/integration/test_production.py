"""Running it in production: out of file descriptors (it backs off and
recovers), names that are not UTF-8 (status stays JSON, metrics stay the
text format), journald priority prefixes, the ready and live probes with
--shutdown-delay, the defaults taken from a container (the descriptor
limit), and the identity metrics. Every check runs the real replugd."""

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

import fcgi_client
import harness
from harness import REPLUGD, example_module, test_module, wait_for
from test_operate import parse_prometheus

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of PID (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def descriptor_limits(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no 'Max open files' in /proc/PID/limits")


def limit_descriptors(soft, hard):
    """A preexec_fn: the child starts with these RLIMIT_NOFILE limits."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def metrics_of(server):
    response = server.admin("GET", "metrics")
    assert response.status == 200, response.text
    return parse_prometheus(response.body.decode("utf-8"))  # strict: the format is UTF-8


def sample(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


class OutOfDescriptors(harness.TestCase):
    """Measured before: with `ulimit -n 64` and 120 connections replugd used
    1.2 cores and wrote 269,430 log lines in 4 seconds."""

    def hold_connections(self, server, count):
        held = []
        for _ in range(count):
            held.append(fcgi_client.connect(server.address, timeout=20))
        self.addCleanup(lambda: [sock.close() for sock in held])
        return held

    def check_backs_off(self, workers, connections):
        self.module(example_module("hello"), "hello")
        # The hard limit is low too: raising the soft one (as replugd does at
        # start) must not hide running out.
        server = self.replugd(["--workers", str(workers), "--module-path", self.modules, "--route", "/hello=hello"],
                              preexec_fn=limit_descriptors(64, 64))
        processes = [server.pid] + (wait_for(lambda: len(children(server.pid)) == workers and children(server.pid),
                                             what="the workers") if workers else [])
        held = self.hold_connections(server, connections)
        wait_for(lambda: "Too many open files" in server.log(), what="replugd to run out of descriptors")
        ran_out = time.monotonic()

        # A measurement window, not a wait for a condition: CPU over 2 s.
        before = sum(cpu_seconds(pid) for pid in processes)
        started = time.monotonic()
        time.sleep(2)
        used = (sum(cpu_seconds(pid) for pid in processes) - before) / (time.monotonic() - started)
        self.assertLess(used, 0.2, f"{used:.2f} of a core while out of descriptors")
        failures = [line for line in server.log().splitlines() if "accept failed" in line]
        # At most a line a second in each process that accepts (a little
        # slack for the second that was under way when the count began).
        allowed = (time.monotonic() - ran_out + 2) * max(workers, 1)
        self.assertLessEqual(len(failures), allowed, "\n".join(failures[:20]))
        self.assertRegex(failures[0], r"Too many open files \(\d+ time\(s\) since the last report\); not accepting")

        # The connections it took are served; the first ones were taken first.
        for sock in held[:5]:
            sock.sendall(fcgi_client.encode_request(fcgi_client.cgi_params("/hello"), keep=True))
            response = fcgi_client.read_response(sock)
            self.assertIsNotNone(response, "a connection accepted before running out got no answer")
            self.assertEqual((response.status, response.text), (200, "Hello from replug: GET /hello\n"))

        for sock in held:
            sock.close()
        response = wait_for(lambda: (lambda r: r if r and r.status == 200 else None)(server.request("/hello")),
                            timeout=20, what="a new connection to be served after the held ones closed")
        self.assertEqual(response.text, "Hello from replug: GET /hello\n")
        wait_for(lambda: "accepting again" in server.log(), what="the end of the outage to be logged")
        self.assertEqual(server.stop(), 0)

    def test_a_single_process_backs_off_and_recovers(self):
        self.check_backs_off(workers=0, connections=100)

    def test_worker_processes_back_off_and_recover(self):
        self.check_backs_off(workers=2, connections=200)


class NamesThatAreNotUtf8(harness.TestCase):
    """A module directory's name on Linux may hold any byte but '/' and NUL."""

    def test_status_is_json_and_metrics_are_utf8(self):
        for workers in (0, 2):
            with self.subTest(workers=workers):
                directory = os.path.join(os.fsencode(self.dir), b"w%d-mod\xff\xfe" % workers)
                os.makedirs(directory)
                harness.install(example_module("pluggable"), os.fsdecode(os.path.join(directory, b"pluggable.so")))
                harness.install(test_module("latin1_version"), os.fsdecode(os.path.join(directory, b"cafe.so")))
                server = self.replugd(["--workers", str(workers), "--module-path", os.fsdecode(directory),
                                       "--route", "/p=pluggable", "--route", "/cafe=cafe"],
                                      workdir=self.make_workdir(f"w{workers}"))
                response = server.admin("GET", "status")
                self.assertEqual(response.status, 200)
                status = json.loads(response.body.decode("utf-8"))  # strict UTF-8, strict JSON
                self.assertIn(b"-mod\\u00ff\\u00fe/pluggable.so", response.body)
                current = status["routes"][0]["current"]
                # Each stray byte is the character of its number: the bytes come back through Latin-1.
                self.assertEqual(current["file"].encode("latin-1"), os.path.join(directory, b"pluggable.so"))
                self.assertEqual(server.request("/p").text, "First version of code")

                samples = metrics_of(server)  # strict UTF-8 and the text format's rules
                self.assertEqual(sample(samples, "replug_requests_total", route="/p"), 1)
                # The module's version "caf\xe9": \u00e9 in JSON, U+00E9 in a label.
                self.assertIn(b'"version":"caf\\u00e9"', response.body)
                self.assertEqual(status["routes"][1]["current"]["version"], "caf\u00e9")
                sha256 = status["routes"][1]["current"]["sha256"]
                self.assertEqual(sample(samples, "replug_module_info", route="/cafe", module="cafe",
                                        version="caf\u00e9", sha256=sha256), 1)
                server.stop()

    def make_workdir(self, name):
        path = os.path.join(self.dir, name)
        os.makedirs(path)
        return path


class Journal(harness.TestCase):
    """systemd.exec(5): JOURNAL_STREAM holds "DEVICE:INODE" of the stream
    stderr is connected to; a line that starts with <N> is stored at
    priority N, one without at info."""

    def start_logging(self, stream_of, args, wait=True):
        log_path = os.path.join(self.dir, "replugd.log")
        open(log_path, "wb").close()  # the harness reopens it: the same inode
        info = os.stat(log_path)
        stream = stream_of(info)
        env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
        env["JOURNAL_STREAM"] = stream
        return self.replugd(args, env=env, wait=wait)

    def test_each_line_has_its_priority_when_stderr_is_the_journal(self):
        self.module(test_module("throws"), "throws")
        server = self.start_logging(lambda info: f"{info.st_dev}:{info.st_ino}",
                                    ["--log-level", "debug", "--module-path", self.modules, "--route", "/t/*=throws"])
        self.assertEqual(server.request("/t/std").status, 500)  # an error line
        self.assertEqual(server.admin("GET", "status", token="wrong-token-0123456789").status, 401)  # a warning
        wait_for(lambda: "handler threw" in server.log() and "admin unauthorized" in server.log(),
                 what="the error and the warning to be logged")
        self.assertEqual(server.stop(), 0)
        lines = server.log().splitlines()
        self.assertTrue(lines)
        for line in lines:  # the master's and the workers' alike
            self.assertRegex(line, r"^<[3467]>(error|warn|info|debug) ")
            level = line[3:].split(" ")[0]
            self.assertEqual(line[:3], {"error": "<3>", "warn": "<4>", "info": "<6>", "debug": "<7>"}[level], line)
        self.assertTrue(any(line.startswith("<3>error handler threw") for line in lines))
        self.assertTrue(any(line.startswith("<4>warn admin unauthorized") for line in lines))
        self.assertTrue(any(line.startswith("<6>info replugd ") and "serving on" in line for line in lines))
        self.assertTrue(any(line.startswith("<7>debug ") for line in lines))

    def test_a_failure_to_start_is_an_error_too(self):
        server = self.start_logging(lambda info: f"{info.st_dev}:{info.st_ino}",
                                    ["--module-path", self.modules, "--route", "/x=missing"], wait=False)
        self.assertEqual(server.process.wait(30), 1)
        last = server.log().splitlines()[-1]
        self.assertRegex(last, r"^<3>replugd: .*missing")

    def test_a_real_journald_stores_each_line_at_its_priority(self):
        journald = "/lib/systemd/systemd-journald"
        if not (os.path.exists(journald) and shutil.which("journalctl") and shutil.which("unshare")):
            self.skipTest("systemd-journald, journalctl or unshare is not installed")
        self.module(test_module("throws"), "throws")
        probe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "journal_probe.py")
        result = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, probe, REPLUGD,
                                 self.dir, self.modules], capture_output=True, text=True, timeout=120,
                                cwd=os.path.dirname(probe))
        if result.returncode != 0 and "unshare failed" in result.stderr:
            self.skipTest("no private mount namespace here: " + result.stderr.strip())
        self.assertEqual(result.returncode, 0, result.stderr)
        stored = json.loads(result.stdout)
        self.assertEqual(stored["exit"], 0)
        by_message = {entry["message"]: entry["priority"] for entry in stored["all"]}
        threw = [m for m in by_message if m.startswith("error handler threw")]
        self.assertTrue(threw, by_message)
        self.assertEqual(by_message[threw[0]], 3)  # stored as an error; the <3> itself is gone
        serving = [m for m in by_message if m.startswith("info replugd ") and "serving on" in m]
        self.assertEqual([by_message[m] for m in serving], [6])
        self.assertFalse([m for m in by_message if m.startswith("<")], by_message)
        # journalctl -p err: the errors, and only them.
        self.assertTrue(stored["errors"])
        self.assertEqual({entry["priority"] for entry in stored["errors"]}, {3})
        self.assertTrue(all(entry["message"].startswith("error ") for entry in stored["errors"]))

    def test_no_prefix_when_journal_stream_names_another_file(self):
        for stream in (lambda info: f"{info.st_dev}:{info.st_ino + 1}", lambda info: "garbage"):
            server = self.start_logging(stream, ["--workers", "0"])
            self.assertEqual(server.stop(), 0)
            lines = server.log().splitlines()
            self.assertTrue(lines)
            for line in lines:
                self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info|debug) ")


class Probes(harness.TestCase):
    def start(self, *args, workers=2, token=True):
        self.module(example_module("hello"), "hello")
        return self.replugd(["--workers", str(workers), "--module-path", self.modules, "--route", "/hello=hello",
                             *args], token=token)

    def probe(self, server, name, method="GET"):
        return server.request("/-/" + name, method=method)  # no Authorization

    def test_ready_and_live_answer_without_a_token(self):
        for workers in (0, 2):
            with self.subTest(workers=workers):
                server = self.start(workers=workers)
                for name in ("ready", "live"):
                    response = self.probe(server, name)
                    self.assertEqual((response.status, response.text), (200, name + "\n"))
                    self.assertEqual(response.headers["content-type"], "text/plain")
                    self.assertEqual(self.probe(server, name, method="POST").status, 405)
                # Only those two paths: the rest of the prefix still needs the token.
                self.assertEqual(self.probe(server, "readyz").status, 401)
                self.assertEqual(self.probe(server, "status").status, 401)
                self.assertEqual(server.stop(), 0)

    def test_probes_answer_with_admin_off(self):
        server = self.start(token=False)
        self.assertEqual(self.probe(server, "ready").status, 200)
        self.assertEqual(self.probe(server, "live").status, 200)
        self.assertEqual(self.probe(server, "status").status, 404)  # no admin: a path like any other

    def test_shutdown_delay(self):
        for workers in (0, 2):
            with self.subTest(workers=workers):
                server = self.start("--shutdown-delay", "4", workers=workers)
                self.assertEqual(self.probe(server, "ready").status, 200)
                terminated = time.monotonic()
                server.send(signal.SIGTERM)
                wait_for(lambda: self.probe(server, "ready").status == 503, what="ready to turn 503")
                self.assertEqual(self.probe(server, "ready").text, "stopping\n")
                # Still serving normally: requests, live.
                self.assertEqual(server.request("/hello").text, "Hello from replug: GET /hello\n")
                self.assertEqual(self.probe(server, "live").status, 200)
                self.assertNotIn("draining requests", server.log())  # all of that inside the delay
                self.assertEqual(server.process.wait(30), 0)
                self.assertGreaterEqual(time.monotonic() - terminated, 4)
                log = server.log()
                self.assertIn("serving on for 4000ms (--shutdown-delay) before draining", log)
                self.assertLess(log.index("--shutdown-delay"), log.index("draining requests"))

    def test_a_second_sigterm_cuts_the_delay_short(self):
        server = self.start("--shutdown-delay", "600")
        server.send(signal.SIGTERM)
        wait_for(lambda: self.probe(server, "ready").status == 503, what="ready to turn 503")
        server.send(signal.SIGTERM)
        self.assertEqual(server.process.wait(30), 0)
        self.assertIn("SIGTERM again: the shutdown delay is cut short", server.log())

    def test_a_bad_delay_is_a_config_error(self):
        for value in ("-1", "soon", "86401"):
            result = subprocess.run([REPLUGD, "--listen", "unix:" + os.path.join(self.dir, "x.sock"),
                                     "--shutdown-delay", value], capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
            self.assertIn("shutdown-delay", result.stderr)
        config = os.path.join(self.dir, "replugd.conf")
        with open(config, "w") as f:
            f.write("shutdown-delay = -5\n")
        result = subprocess.run([REPLUGD, "--config", config], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(config + ":1: --shutdown-delay", result.stderr)


class ContainerDefaults(harness.TestCase):
    def test_the_soft_descriptor_limit_rises_to_the_hard_one(self):
        for workers in (0, 2):
            with self.subTest(workers=workers):
                workdir = os.path.join(self.dir, f"w{workers}")
                os.makedirs(workdir)
                server = self.replugd(["--workers", str(workers), "--log-level", "debug"], workdir=workdir,
                                      preexec_fn=limit_descriptors(256, 4096))
                self.assertEqual(descriptor_limits(server.pid), (4096, 4096))
                for worker in (wait_for(lambda: len(children(server.pid)) == workers and children(server.pid),
                                        what="the workers") if workers else []):
                    self.assertEqual(descriptor_limits(worker), (4096, 4096))
                self.assertIn("descriptor limit (RLIMIT_NOFILE) raised from 256 to 4096 (the hard limit)",
                              server.log())
                self.assertEqual(server.stop(), 0)

    def test_connections_above_descriptor_1024_are_served(self):
        # With the limit raised, connections get descriptors above FD_SETSIZE:
        # libfcgi must never select() on them (its close path once did).
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 2048:
            self.skipTest(f"the hard descriptor limit here is {hard}, below 2048")
        if soft < 2048:  # this test's own 1100 sockets
            resource.setrlimit(resource.RLIMIT_NOFILE, (2048, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        self.module(example_module("hello"), "hello")
        server = self.replugd(["--workers", "0", "--module-path", self.modules, "--route", "/hello=hello"],
                              preexec_fn=limit_descriptors(1024, 2048))
        held = []
        self.addCleanup(lambda: [sock.close() for sock in held])
        for _ in range(1100):
            held.append(fcgi_client.connect(server.address, timeout=20))
        wait_for(lambda: len(os.listdir(f"/proc/{server.pid}/fd")) > 1100, timeout=30,
                 what="replugd to accept every connection")
        for keep, connections in ((False, held[-20:]), (True, held[-40:-20])):
            for sock in connections:
                sock.sendall(fcgi_client.encode_request(fcgi_client.cgi_params("/hello"), keep=keep))
                response = fcgi_client.read_response(sock)
                self.assertIsNotNone(response)
                self.assertEqual(response.text, "Hello from replug: GET /hello\n")
        for sock in held:
            sock.close()
        self.assertEqual(server.request("/hello").status, 200)
        self.assertTrue(server.running())
        self.assertEqual(server.stop(), 0)

    def test_a_single_process_takes_threads_from_the_cpus(self):
        server = self.replugd(["--workers", "0"])
        status = json.loads(server.admin("GET", "status").text)
        cpus = os.cpu_count()
        try:  # a cgroup v2 quota, as a container has: "QUOTA PERIOD" or "max PERIOD"
            with open("/sys/fs/cgroup/cpu.max") as f:
                quota, period = f.read().split()
            if quota != "max":
                cpus = min(cpus, max(1, -(-int(quota) // int(period))))
        except FileNotFoundError:
            pass
        self.assertEqual(status["threads"], max(2, cpus))
        self.assertEqual(status["worker_processes"], 0)


class IdentityMetrics(harness.TestCase):
    def test_identity_and_process_metrics(self):
        for workers in (0, 2):
            with self.subTest(workers=workers):
                workdir = os.path.join(self.dir, f"w{workers}")
                modules = os.path.join(workdir, "modules")
                harness.install(example_module("pluggable"), os.path.join(modules, "pluggable.so"))
                server = self.replugd(["--workers", str(workers), "--module-path", modules, "--route", "/p=pluggable"],
                                      workdir=workdir)
                status = json.loads(server.admin("GET", "status").text)
                sha256 = status["routes"][0]["current"]["sha256"]
                self.assertRegex(sha256, r"^[0-9a-f]{64}$")
                samples = metrics_of(server)
                self.assertEqual(sample(samples, "replug_build_info", version=status["version"]), 1)
                self.assertEqual(sample(samples, "replug_module_info", route="/p", module="pluggable", version="1",
                                        sha256=sha256), 1)
                self.assertEqual(sample(samples, "replug_last_reload_successful", route="/p"), 1)

                # The process that answers: the master, or the single process.
                started = sample(samples, "process_start_time_seconds")
                with open("/proc/stat") as f:
                    boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
                with open(f"/proc/{server.pid}/stat") as f:
                    expected = boot + int(f.read().rpartition(")")[2].split()[19]) / TICKS
                self.assertAlmostEqual(started, expected, delta=0.02)
                self.assertGreater(sample(samples, "process_resident_memory_bytes"), 1 << 20)
                open_fds = len(os.listdir(f"/proc/{server.pid}/fd"))
                self.assertGreater(sample(samples, "process_open_fds"), 3)
                self.assertLessEqual(abs(sample(samples, "process_open_fds") - open_fds), 3)
                self.assertEqual(sample(samples, "process_max_fds"), descriptor_limits(server.pid)[0])
                for slot in range(workers):
                    self.assertGreater(sample(samples, "replug_worker_resident_memory_bytes", slot=str(slot)), 1 << 20)
                    self.assertGreater(sample(samples, "replug_worker_open_fds", slot=str(slot)), 3)
                    self.assertGreaterEqual(sample(samples, "replug_worker_start_time_seconds", slot=str(slot)),
                                            started - 1)
                if not workers:
                    self.assertFalse([key for key in samples if key[0].startswith("replug_worker_")])

                # A refused reload: 0 until a reload succeeds again.
                harness.install(test_module("abi_mismatch"), os.path.join(modules, "pluggable.so"))
                self.assertEqual(server.admin("POST", "reload", query="route=/p").status, 422)
                self.assertEqual(sample(metrics_of(server), "replug_last_reload_successful", route="/p"), 0)
                harness.install(test_module("pluggable_v2"), os.path.join(modules, "pluggable.so"))
                self.assertEqual(server.admin("POST", "reload", query="route=/p").status, 200)
                samples = metrics_of(server)
                self.assertEqual(sample(samples, "replug_last_reload_successful", route="/p"), 1)
                new_sha = json.loads(server.admin("GET", "status").text)["routes"][0]["current"]["sha256"]
                self.assertNotEqual(new_sha, sha256)
                self.assertEqual(sample(samples, "replug_module_info", route="/p", module="pluggable", version="2",
                                        sha256=new_sha), 1)
                self.assertIsNone(sample(samples, "replug_module_info", route="/p", module="pluggable", version="1",
                                         sha256=sha256))
                self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()

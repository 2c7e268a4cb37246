"""Signals and process life: SIGHUP re-reads the config (all or nothing, storms
coalesce), SIGTERM drains in-flight requests and exits 0 even with idle
keep-alive connections from nginx, the pid file, exit codes for bad setups."""

import functools
import os
import signal
import subprocess
import unittest

import fcgi_client
import harness
from harness import HTTP, REPLUGD, example_module, test_module


class Lifecycle(harness.TestCase):
    def write_config(self, routes, extra=""):
        path = os.path.join(self.dir, "replugd.conf")
        with open(path, "w") as f:
            f.write(f"# test config\nmodule-path = {self.modules}\n")
            for route in routes:
                f.write(f"route = {route}\n")
            f.write(extra)
        return path

    def test_sighup_applies_a_new_route_table(self):
        self.module(example_module("pluggable"), "pluggable")
        self.module(example_module("hello"), "hello")
        config = self.write_config(["/pluggable=pluggable"])
        server = self.replugd(["--config", config])
        self.assertEqual(server.request("/hello").status, 404)
        self.write_config(["/pluggable=pluggable", "/hello=hello"])
        server.send(signal.SIGHUP)
        harness.wait_for(lambda: server.request("/hello").status == 200, what="new route after SIGHUP")
        self.assertEqual(server.request("/pluggable").text, "First version of code")

    def test_sighup_with_a_failing_route_keeps_the_old_table(self):
        self.module(example_module("pluggable"), "pluggable")
        config = self.write_config(["/pluggable=pluggable"])
        server = self.replugd(["--config", config])
        self.module(test_module("pluggable_v2"), "pluggable")
        self.write_config(["/pluggable=pluggable", "/missing=not_there"])
        server.send(signal.SIGHUP)
        harness.wait_for(lambda: "SIGHUP reload refused" in server.log(), what="refusal in the log")
        self.assertIn("module 'not_there' not found; looked in: " + os.path.join(self.modules, "not_there.so"),
                      server.log())
        # All or nothing: /pluggable was loadable but must not have been swapped.
        self.assertEqual(server.request("/pluggable").text, "First version of code")
        self.assertEqual(server.request("/missing").status, 404)

    def test_sighup_with_a_broken_config_file_keeps_the_old_table(self):
        self.module(example_module("pluggable"), "pluggable")
        config = self.write_config(["/pluggable=pluggable"])
        server = self.replugd(["--config", config])
        self.write_config(["/pluggable=pluggable"], extra="no-such-option = 1\n")
        server.send(signal.SIGHUP)
        harness.wait_for(lambda: "SIGHUP reload refused" in server.log(), what="refusal in the log")
        self.assertIn(config + ":4: unknown option 'no-such-option'", server.log())
        self.assertEqual(server.request("/pluggable").text, "First version of code")

    def test_hup_storm_coalesces_and_the_last_state_wins(self):
        self.module(example_module("pluggable"), "pluggable")
        server = self.replugd(["--module-path", self.modules, "--route", "/pluggable=pluggable"])
        for _ in range(50):
            server.send(signal.SIGHUP)
        self.module(test_module("pluggable_v3"), "pluggable")
        server.send(signal.SIGHUP)
        harness.wait_for(lambda: server.request("/pluggable").text == "Third version of code",
                         what="the state after the last HUP")
        reloads = server.log().count("SIGHUP: re-reading")
        self.assertGreaterEqual(reloads, 1)
        self.assertLess(reloads, 51)  # coalesced: fewer reloads than signals
        self.assertTrue(server.running())

    def test_sigterm_finishes_in_flight_requests_and_exits_zero(self):
        self.module(test_module("slow_v1"), "slow")
        pid_file = os.path.join(self.dir, "replugd.pid")
        server = self.replugd(["--module-path", self.modules, "--route", "/slow=slow", "--pid-file", pid_file])
        with open(pid_file) as f:
            self.assertEqual(int(f.read()), server.pid)
        answers = []
        # Long enough to be seen in flight on a loaded machine; the drain timeout (10 s) waits for it.
        worker = harness.ClientThreads([lambda: answers.append(server.request("/slow", query="3000", timeout=20))])
        harness.wait_for(lambda: '"in_flight":1' in server.admin("GET", "status").text, what="request in flight")
        self.assertEqual(server.stop(signal.SIGTERM), 0)
        worker.join()
        self.assertEqual(answers[0].status, 200)
        self.assertEqual(answers[0].text, "slow 1 after 3000ms")
        self.assertFalse(os.path.exists(pid_file))
        self.assertFalse(os.path.exists(server.address[5:]), "unix socket left behind")

    def test_sigterm_with_idle_keepalive_connections_from_nginx(self):
        # libfcgi's keep-conn trap: threads blocked in read() on idle
        # connections made SIGTERM hang forever. More idle connections than
        # threads, all parked.
        self.module(example_module("hello"), "hello")
        server = self.replugd(["--module-path", self.modules, "--route", "/hello=hello", "--threads", "2",
                               "--listen-group", "www-data"])
        front = self.nginx(server.address)
        clients = [HTTP(front.port) for _ in range(8)]
        results = []

        def hit(client):
            results.append(client.get("/hello")[0])

        harness.ClientThreads([functools.partial(hit, c) for c in clients]).join()
        self.assertEqual(results, [200] * 8)
        self.assertEqual(server.stop(signal.SIGTERM, timeout=5), 0)
        self.assertIn("stopped", server.log())
        for c in clients:
            c.close()

    def test_a_hung_handler_does_not_hold_the_exit_forever(self):
        self.module(test_module("slow_v1"), "slow")
        server = self.replugd(["--module-path", self.modules, "--route", "/slow=slow", "--drain-timeout", "0.3"])
        sock = fcgi_client.connect(server.address)
        self.addCleanup(sock.close)
        sock.sendall(fcgi_client.encode_request(fcgi_client.cgi_params("/slow", query="60000")))
        harness.wait_for(lambda: '"in_flight":1' in server.admin("GET", "status").text, what="request in flight")
        self.assertEqual(server.stop(signal.SIGTERM, timeout=10), 0)
        self.assertIn("1 request(s) still running after the drain timeout", server.log())


class StartupErrors(harness.TestCase):
    def run_replugd(self, *args):
        return subprocess.run([REPLUGD, *args], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)

    def test_bad_option_exits_2_with_one_line(self):
        result = self.run_replugd("--no-such-option")
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stderr.count("\n"), 1, result.stderr)
        self.assertIn("no-such-option", result.stderr)

    def test_bad_route_syntax_exits_2(self):
        result = self.run_replugd("--listen", ":0", "--route", "nopath=hello")
        self.assertEqual(result.returncode, 2)
        self.assertIn("bad route 'nopath=hello'", result.stderr)

    def test_unreadable_config_file_exits_2(self):
        missing = os.path.join(self.dir, "missing.conf")
        result = self.run_replugd("--config", missing)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stderr, f"replugd: --config {missing}: cannot read the file\n")

    def test_bad_line_in_config_names_file_and_line(self):
        config = os.path.join(self.dir, "bad.conf")
        with open(config, "w") as f:
            f.write("# comment\n\nthreads = lots\n")
        result = self.run_replugd("--config", config)
        self.assertEqual(result.returncode, 2)
        self.assertTrue(result.stderr.startswith(f"replugd: {config}:3: "), result.stderr)

    def test_missing_module_at_start_exits_1(self):
        result = self.run_replugd("--listen", "unix:" + os.path.join(self.dir, "s.sock"),
                                  "--module-path", self.modules, "--route", "/x=absent")
        self.assertEqual(result.returncode, 1)
        self.assertIn("route /x: module 'absent' not found; looked in:", result.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "s.sock")))

    def test_no_listen_and_no_inherited_socket_exits_2(self):
        result = self.run_replugd("--module-path", self.modules)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--listen: not given, and no inherited socket", result.stderr)

    def test_check_reports_every_route(self):
        self.module(example_module("hello"), "hello")
        self.module(example_module("pluggable"), "pluggable")
        result = self.run_replugd("--check", "--module-path", self.modules, "--route", "/hello=hello",
                                  "--route", "/p/*=pluggable")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"ok route=/p/* module=pluggable file={self.modules}/pluggable.so version=1", result.stdout)
        result = self.run_replugd("--check", "--module-path", self.modules, "--route", "/x=not_there")
        self.assertEqual(result.returncode, 1)

    def test_a_route_naming_a_data_symbol_is_refused(self):
        self.module(test_module("echo"), "echo")
        for symbol in ["replug_module", "replug_abi_version"]:
            result = self.run_replugd("--check", "--module-path", self.modules, "--route", f"/x=echo:{symbol}")
            self.assertEqual(result.returncode, 1)
            self.assertIn(f"no handler '{symbol}' (its handlers: serve, status; export one with "
                          f"REPLUG_HANDLER({symbol}))", result.stderr)
        result = self.run_replugd("--check", "--module-path", self.modules, "--route", "/x=echo:status")
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_version_and_help(self):
        result = self.run_replugd("--version")
        self.assertEqual(result.returncode, 0)
        self.assertRegex(result.stdout, r"^replugd \d+\.\d+\.\d+ \(module ABI 2, libstdc\+\+\)\n$")
        result = self.run_replugd("--help")
        self.assertEqual(result.returncode, 0)
        for option in ["--listen", "--module-path", "--route", "--admin-token-file", "--check"]:
            self.assertIn(option, result.stdout)


if __name__ == "__main__":
    unittest.main()

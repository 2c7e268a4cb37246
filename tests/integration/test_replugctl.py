"""replugctl against a running replugd: over FastCGI straight to its socket
(unix and TCP), and over HTTP through the real nginx. Exact outputs and exit
codes: 0 success, 1 the server refused, 2 usage, 3 no answer; no token in
clear text to a host that is not loopback."""

import json
import os
import re
import signal
import socket
import subprocess
import unittest

import harness
from harness import HTTP, example_module, test_module

REPLUGCTL = os.environ.get("REPLUGCTL", "replugctl")
HEADER = ["ROUTE", "MODULE", "VERSION", "GEN", "REQUESTS", "ERRORS", "IN-FLIGHT", "DRAINING", "FILE", "LAST ERROR"]


def table(rows):
    """Rows as replugctl prints them: columns padded to the widest cell, two
    spaces apart, the last column unpadded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(cell.ljust(widths[i]) if i + 1 < len(row) else cell
                             for i, cell in enumerate(row)) + "\n" for row in rows)


class Replugctl(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.token_file = os.path.join(self.dir, "ctl.token")
        with open(self.token_file, "w") as f:
            f.write("  " + harness.TOKEN + " \n# the rest of the file is ignored\n")
        os.chmod(self.token_file, 0o600)

    def start(self, *routes, args=(), **kwargs):
        self.module(example_module("pluggable"), "pluggable")
        routes = routes or ("/pluggable=pluggable",)
        self.server = self.replugd(["--module-path", self.modules, "--listen-group", "www-data", *args,
                                    *sum((["--route", r] for r in routes), [])], **kwargs)
        self.socket_option = ["--socket", self.server.address]
        return self.server

    def ctl(self, *args, token_file=True, env=None, where=None):
        """Runs replugctl; returns (exit status, stdout, stderr)."""
        argv = [REPLUGCTL] + (self.socket_option if where is None else where)
        argv += ["--token-file", self.token_file] if token_file else []
        environment = {name: value for name, value in os.environ.items() if name != "REPLUG_TOKEN"}
        environment.update(env or {})
        done = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=60, env=environment)
        return done.returncode, done.stdout, done.stderr

    def server_reason(self, method, endpoint, query):
        """The "error" the server itself gives for a request, fetched without replugctl."""
        answer = self.server.admin(method, endpoint, query=query)
        self.assertGreaterEqual(answer.status, 400, answer.text)
        return json.loads(answer.text)["error"]

    def status_rows(self, *rows):
        return table([HEADER] + [list(row) for row in rows])

    def file(self, name):
        return os.path.join(self.modules, name + ".so")

    # status

    def test_status_is_a_table_of_routes(self):
        self.module(test_module("throws"), "throws")
        self.start("/pluggable=pluggable", "/t/*=throws")
        self.assertEqual(self.server.request("/pluggable").text, "First version of code")
        self.assertEqual(self.server.request("/pluggable").status, 200)
        self.assertEqual(self.server.request("/t/std").status, 500)
        code, out, err = self.ctl("status")
        self.assertEqual((code, err), (0, ""))
        summary, rest = out.split("\n", 1)
        direct = json.loads(self.server.admin("GET", "status").text)
        threads = direct["threads"]
        self.assertRegex(summary, rf"^replugd \d+\.\d+\.\d+, pid {self.server.pid}, {threads} threads, up \d+s$")
        rest, workers = rest.split("\n\n")
        rest += "\n"
        self.assertEqual(rest, self.status_rows(
            ["/pluggable", "pluggable", "1", "1", "2", "0", "0", "0", self.file("pluggable"), "-"],
            ["/t/*", "throws", "throws-1", "1", "1", "1", "0", "0", self.file("throws"), "-"]))
        # the literal layout, once, so that the helper above cannot drift
        self.assertTrue(rest.startswith(
            "ROUTE       MODULE     VERSION   GEN  REQUESTS  ERRORS  IN-FLIGHT  DRAINING  FILE"), rest)
        self.assertIn("\n/pluggable  pluggable  1         1    2         0       0          0         /", rest)
        # Then one row per worker process.
        lines = workers.splitlines()
        self.assertEqual(re.split(r"  +", lines[0]), ["WORKER", "PID", "STATE", "AGE", "REQUESTS", "RSS", "BUSY",
                                                     "BEFORE IT"])
        self.assertEqual(len(lines), 1 + len(direct["workers"]), workers)
        for line, worker in zip(lines[1:], direct["workers"]):
            self.assertRegex(line, rf"^{worker['slot']}\s+{worker['pid']}\s+serving\s+\d+s\s+\d+\s+\d+ MiB\s+0\s+-$")

    def test_status_says_why_the_worker_before_ended(self):
        self.start()
        [first, *_] = json.loads(self.server.admin("GET", "status").text)["workers"]
        os.kill(first["pid"], signal.SIGSEGV)

        def workers():  # a status request the dying worker had accepted goes unanswered, or is reset
            try:
                answer = self.server.admin("GET", "status")
            except OSError:
                return []
            return json.loads(answer.text)["workers"] if answer else []

        harness.wait_for(lambda: any(w["slot"] == first["slot"] and w["pid"] not in (0, first["pid"]) and
                                     w["state"] == "serving" for w in workers()), what="its replacement")
        code, out, err = self.ctl("status")
        self.assertEqual((code, err), (0, ""))
        rows = [re.split(r"  +", line) for line in out.split("\n\n")[1].splitlines()[1:]]
        row = next(r for r in rows if r[0] == str(first["slot"]))
        self.assertEqual(row[2], "serving")
        self.assertEqual(row[-1], "crash (SIGSEGV)")

    def test_status_shows_the_last_reload_error(self):
        self.start()
        with open(self.file("pluggable"), "wb") as f:
            f.write(b"not a module")
        code, out, err = self.ctl("reload", "/pluggable")
        reason = json.loads(self.server.admin("GET", "status").text)["routes"][0]["last_error"]["reason"]
        self.assertIn("not an ELF file", reason)
        self.assertEqual((code, out, err), (1, "", f"replugctl: /pluggable: {reason}\n"))
        code, out, err = self.ctl("status")
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out.split("\n", 1)[1].split("\n\n")[0] + "\n", self.status_rows(
            ["/pluggable", "pluggable", "1", "1", "0", "0", "0", "0", self.file("pluggable"), reason]))
        self.assertEqual(self.server.request("/pluggable").text, "First version of code")

    def test_json_prints_the_servers_answer(self):
        self.start("/pluggable=pluggable", "/api/*=pluggable")
        code, out, err = self.ctl("--json", "status")
        self.assertEqual((code, err), (0, ""))
        self.assertTrue(out.endswith("}\n"), out)
        printed = json.loads(out)
        direct = json.loads(self.server.admin("GET", "status").text)
        self.assertEqual(printed["routes"], direct["routes"])
        # The workers' request counts and memory move between the two calls.
        self.assertEqual({k: v for k, v in printed.items() if k not in ("uptime_s", "workers")},
                         {k: v for k, v in direct.items() if k not in ("uptime_s", "workers")})
        self.assertEqual([w["slot"] for w in printed["workers"]], [w["slot"] for w in direct["workers"]])
        self.assertEqual([r["route"] for r in printed["routes"]], ["/pluggable", "/api/*"])

    def test_metrics_are_printed_as_they_are(self):
        self.start()
        self.server.request("/pluggable")
        code, out, err = self.ctl("metrics")
        self.assertEqual((code, err), (0, ""))
        self.assertTrue(out.startswith("# HELP replug_requests_total "), out)
        self.assertIn('\nreplug_requests_total{route="/pluggable"} 1\n', out)
        self.assertTrue(out.endswith("\n"))

    # reload and rollback

    def test_reload_one_route_then_rollback(self):
        self.start()
        self.module(test_module("pluggable_v2"), "pluggable")
        code, out, err = self.ctl("reload", "/pluggable")
        self.assertEqual((code, err), (0, ""))
        load_ms = json.loads(self.server.admin("GET", "status").text)["routes"][0]["current"]["load_ms"]
        self.assertEqual(out, f"/pluggable: 1 -> 2 (generation 2, {load_ms:.2f} ms)\n")
        self.assertEqual(self.server.request("/pluggable").text, "Second version of code")

        code, out, err = self.ctl("rollback", "/pluggable")
        self.assertEqual((code, out, err), (0, "/pluggable: 2 -> 1 (generation 1, 0.00 ms)\n", ""))
        self.assertEqual(self.server.request("/pluggable").text, "First version of code")

    def test_rollback_with_no_previous_version_exits_1_with_the_409_reason(self):
        self.start()
        code, out, err = self.ctl("rollback", "/pluggable")
        reason = self.server_reason("POST", "rollback", "route=/pluggable")
        self.assertIn("no previous version", reason)
        self.assertEqual((code, out, err), (1, "", f"replugctl: /pluggable: {reason}\n"))
        # for scripts: the server's JSON on stdout, the exit status says it failed
        code, out, err = self.ctl("--json", "rollback", "/pluggable")
        self.assertEqual((code, json.loads(out), err), (1, {"error": reason}, f"replugctl: /pluggable: {reason}\n"))
        self.assertEqual(self.server.request("/pluggable").text, "First version of code")

    def test_reload_of_every_route(self):
        self.start("/pluggable=pluggable", "/api/*=pluggable")
        self.module(test_module("pluggable_v2"), "pluggable")
        code, out, err = self.ctl("reload")
        self.assertEqual((code, err), (0, ""))
        self.assertRegex(out, r"^/pluggable: 1 -> 2 \(generation 2, \d+\.\d\d ms\)\n"
                              r"/api/\*: 1 -> 2 \(generation 2, \d+\.\d\d ms\)\n$")
        self.assertEqual(self.server.request("/pluggable").text, "Second version of code")
        self.assertEqual(self.server.request("/api/x").text, "Second version of code")

    def test_a_route_is_percent_encoded(self):
        self.start("/pluggable=pluggable", "/api/*=pluggable")
        self.module(test_module("pluggable_v3"), "pluggable")
        code, out, err = self.ctl("reload", "/api/*")
        self.assertEqual((code, err), (0, ""))
        self.assertRegex(out, r"^/api/\*: 1 -> 3 \(generation 2, \d+\.\d\d ms\)\n$")
        self.assertEqual(self.server.request("/api/x").text, "Third version of code")
        self.assertEqual(self.server.request("/pluggable").text, "First version of code")
        # '&' and '=' would cut the query short if they were sent as they are
        code, out, err = self.ctl("reload", "/a&route=/pluggable")
        self.assertEqual((code, out, err), (1, "", "replugctl: /a&route=/pluggable: no route /a&route=/pluggable\n"))

    # errors the server answers: exit 1

    def test_wrong_token_exits_1_unauthorized(self):
        self.start()
        wrong = {"REPLUG_TOKEN": "wrong-token-0123456789abcdef"}
        self.assertEqual(self.ctl("status", token_file=False, env=wrong), (1, "", "replugctl: status: unauthorized\n"))
        self.assertEqual(self.ctl("reload", "/pluggable", token_file=False, env=wrong),
                         (1, "", "replugctl: /pluggable: unauthorized\n"))
        # the right token from the environment works
        code, out, err = self.ctl("status", token_file=False, env={"REPLUG_TOKEN": harness.TOKEN})
        self.assertEqual((code, err), (0, ""))

    def test_unknown_route_exits_1(self):
        self.start()
        reason = self.server_reason("POST", "reload", "route=/nope")
        self.assertEqual(reason, "no route /nope")
        self.assertEqual(self.ctl("reload", "/nope"), (1, "", "replugctl: /nope: no route /nope\n"))
        self.assertEqual(self.ctl("rollback", "/nope"), (1, "", "replugctl: /nope: no route /nope\n"))

    def test_another_admin_prefix(self):
        self.start(args=["--admin-prefix", "/admin/"])
        code, out, err = self.ctl("--admin-prefix", "/admin/", "status")
        self.assertEqual((code, err), (0, ""))
        self.assertIn("\n/pluggable  pluggable  ", out)
        code, out, err = self.ctl("status")  # /-/status is an ordinary path there: no route
        self.assertEqual((code, out), (1, ""))
        self.assertRegex(err, r"^replugctl: status: HTTP 404\b.*\n$")

    # no answer: exit 3; a usage error: exit 2

    def test_unreachable_socket_exits_3(self):
        absent = os.path.join(self.dir, "absent.sock")
        self.assertEqual(self.ctl("status", where=["--socket", "unix:" + absent]),
                         (3, "", f"replugctl: cannot connect to unix:{absent}: No such file or directory\n"))
        port = harness.free_port()
        self.assertEqual(self.ctl("reload", "/x", where=["--socket", f"127.0.0.1:{port}"]),
                         (3, "", f"replugctl: cannot connect to 127.0.0.1:{port}: Connection refused\n"))
        self.assertEqual(self.ctl("status", where=["--url", f"http://127.0.0.1:{port}/-/"]),
                         (3, "", f"replugctl: cannot connect to http://127.0.0.1:{port}/-/: Connection refused\n"))

    def test_a_server_that_never_answers_times_out_with_3(self):
        path = os.path.join(self.dir, "silent.sock")
        with socket.socket(socket.AF_UNIX) as silent:
            silent.bind(path)
            silent.listen(4)  # accepts into the backlog, never answers
            self.assertEqual(self.ctl("--timeout", "0.3", "status", where=["--socket", path]),
                             (3, "", f"replugctl: {path}: no answer within the timeout (--timeout)\n"))

    def test_usage_errors_exit_2(self):
        hint = " (see replugctl --help)\n"
        self.assertEqual(self.ctl(where=[]), (2, "", "replugctl: no command: give status, reload [ROUTE], "
                                                     "rollback ROUTE or metrics" + hint))
        self.assertEqual(self.ctl("rollback", where=[]), (2, "", "replugctl: rollback: needs a ROUTE, like /pluggable"
                                                                 + hint))
        self.assertEqual(self.ctl("status", "/x", where=[]),
                         (2, "", "replugctl: status: unexpected argument '/x' (it takes none)" + hint))
        self.assertEqual(self.ctl("swap", where=[]), (2, "", "replugctl: unknown command 'swap': give status, "
                                                             "reload [ROUTE], rollback ROUTE or metrics" + hint))
        self.assertEqual(self.ctl("status", where=["--socket", "unix:/a", "--url", "http://h/-/"]),
                         (2, "", "replugctl: several targets (--socket, --url, --targets): only reload ROUTE takes "
                                 "more than one" + hint))
        self.assertEqual(self.ctl("reload", "--check", where=[]),
                         (2, "", "replugctl: --check: only reload ROUTE can be checked" + hint))
        self.assertEqual(self.ctl("status", where=["--url", "https://h/-/"]),
                         (2, "", "replugctl: --url https://h/-/: replugctl speaks no TLS; use an ssh tunnel (ssh -L) and an http:// URL on loopback, or --socket\n"))
        self.assertEqual(self.ctl("status", where=["--socket", "nowhere"]),
                         (2, "", "replugctl: --socket nowhere: expected unix:PATH, /PATH, HOST:PORT, [IPV6]:PORT "
                                 "or :PORT\n"))
        self.assertEqual(self.ctl("status", where=[], token_file=False),
                         (2, "", "replugctl: no admin token: give --token-file FILE or set REPLUG_TOKEN\n"))
        missing = os.path.join(self.dir, "missing.token")
        self.assertEqual(self.ctl("status", "--token-file", missing, where=[], token_file=False),
                         (2, "", f"replugctl: --token-file {missing}: cannot read the file\n"))
        empty = os.path.join(self.dir, "empty.token")
        with open(empty, "w") as f:
            f.write(" \n" + harness.TOKEN + "\n")  # only the first line counts
        self.assertEqual(self.ctl("status", "--token-file", empty, where=[], token_file=False),
                         (2, "", f"replugctl: --token-file {empty}: the token is empty\n"))

    def test_no_token_in_clear_text_to_a_host_that_is_not_loopback(self):
        why = (": refusing to send the admin token unencrypted to a host that is not loopback (replugctl has no "
               "TLS); use an ssh tunnel (ssh -L) to a loopback address, or --allow-plaintext-token on a network "
               "you trust\n")
        for where in (["--url", "http://192.0.2.1/-/"], ["--url", "http://replug.example:8080/-/"],
                      ["--socket", "192.0.2.1:9000"], ["--socket", "[2001:db8::1]:9000"]):
            self.assertEqual(self.ctl("status", where=where), (2, "", f"replugctl: {where[0]} {where[1]}" + why))
        # Loopback in every spelling is fine (nothing listens there: no answer, 3).
        port = harness.free_port()
        for host in ("localhost", "127.0.0.2", "[::1]"):
            self.assertEqual(self.ctl("status", where=["--url", f"http://{host}:{port}/-/"])[0], 3, host)
        # In a fleet, one such target stops everything before anything is sent.
        self.start()
        code, out, err = self.ctl("reload", "/pluggable", where=["--socket", self.server.address,
                                                                 "--url", "http://192.0.2.1/-/"])
        self.assertEqual((code, out, err), (2, "", "replugctl: --url http://192.0.2.1/-/" + why))
        self.assertNotIn("reload check", self.server.log())

        # Nothing is sent, even to a host that listens; with --allow-plaintext-token, the token goes.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet: only picks the outgoing address
            address = probe.getsockname()[0]
        if address.startswith("127."):
            self.skipTest("no address but loopback on this machine")
        with socket.socket() as listener:
            listener.bind((address, 0))
            listener.listen(4)
            listener.settimeout(0.5)
            url = ["--url", f"http://{address}:{listener.getsockname()[1]}/-/"]
            self.assertEqual(self.ctl("status", where=url)[0], 2)
            self.assertRaises(socket.timeout, listener.accept)
            answer = subprocess.Popen([REPLUGCTL, *url, "--token-file", self.token_file, "--allow-plaintext-token",
                                       "--timeout", "5", "status"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
            listener.settimeout(10)
            connection, _ = listener.accept()
            with connection:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += connection.recv(4096)
                self.assertIn(b"\r\nAuthorization: Bearer " + harness.TOKEN.encode() + b"\r\n", request)
                connection.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            out, err = answer.communicate(timeout=30)
            self.assertEqual((answer.returncode, err), (1, "replugctl: status: HTTP 503 Service Unavailable\n"))

    # other transports: TCP, and HTTP through nginx

    def test_fastcgi_over_tcp(self):
        port = harness.free_port()
        self.start(address=f"127.0.0.1:{port}")
        code, out, err = self.ctl("status", where=["--socket", f"127.0.0.1:{port}"])
        self.assertEqual((code, err), (0, ""))
        self.assertIn("\n/pluggable  pluggable  1  ", out)

    def test_status_and_reload_through_nginx(self):
        self.start("/pluggable=pluggable", "/api/*=pluggable")
        front = self.nginx(self.server.address)
        http = HTTP(front.port)
        self.addCleanup(http.close)
        url = ["--url", f"http://127.0.0.1:{front.port}/-/"]

        code, out, err = self.ctl("status", where=url)
        self.assertEqual((code, err), (0, ""))
        # The same routes either way (the workers' rows count the status requests themselves).
        routes = lambda text: text.split("\n", 1)[1].split("\n\n")[0]
        self.assertEqual(routes(out), routes(self.ctl("status")[1]))
        code, out, err = self.ctl("--json", "status", where=url)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(json.loads(out)["pid"], self.server.pid)

        self.module(test_module("pluggable_v2"), "pluggable")
        code, out, err = self.ctl("reload", "/pluggable", where=url)
        self.assertEqual((code, err), (0, ""))
        self.assertRegex(out, r"^/pluggable: 1 -> 2 \(generation 2, \d+\.\d\d ms\)\n$")
        self.assertEqual(http.get("/pluggable")[:2], (200, "Second version of code"))

        code, out, err = self.ctl("reload", where=["--url", f"http://127.0.0.1:{front.port}"])  # the default prefix
        self.assertEqual((code, err), (0, ""))
        self.assertRegex(out, r"^/pluggable: 2 -> 2 \(generation 3, \d+\.\d\d ms\)\n"
                              r"/api/\*: 1 -> 2 \(generation 2, \d+\.\d\d ms\)\n$")
        self.assertEqual(http.get("/api/x")[:2], (200, "Second version of code"))

        self.assertEqual(self.ctl("rollback", "/nope", where=url), (1, "", "replugctl: /nope: no route /nope\n"))
        self.assertEqual(self.ctl("status", where=url, token_file=False, env={"REPLUG_TOKEN": "wrong-0123456789abc"}),
                         (1, "", "replugctl: status: unauthorized\n"))
        self.server.stop()  # nginx answers 502 itself, in HTML
        self.assertEqual(self.ctl("status", where=url), (1, "", "replugctl: status: HTTP 502 Bad Gateway\n"))

    # the manual

    def test_help_matches_the_man_page(self):
        code, out, err = self.ctl("--help", where=[], token_file=False)
        self.assertEqual((code, err), (0, ""))
        page_file = os.path.join(harness.SOURCE_ROOT, "packaging", "man", "replugctl.1")
        with open(page_file) as f:
            source = f.read().replace("\\-", "-")
        # every option, with its value's name, in the same order: ".TP" then ".BI --socket \" ADDR\"" or ".B --json"
        in_help = re.findall(r"^  (--[a-z-]+)(?: ([A-Z]+))?", out, re.M)
        options_section = source.split("\n.SH OPTIONS\n")[1].split("\n.SH ")[0]
        in_page = re.findall(r'^\.TP\n\.BI? (--[a-z-]+)(?: " ([A-Z]+)")?\n', options_section, re.M)
        self.assertEqual(in_help, in_page)
        self.assertEqual([option for option, _ in in_help], ["--socket", "--url", "--targets", "--admin-prefix",
                                                             "--token-file", "--json", "--check",
                                                             "--allow-plaintext-token", "--timeout", "--version",
                                                             "--help"])
        # the same synopsis, line for line
        rendered = subprocess.run(["groff", "-man", "-Tascii", "-P-cbou", page_file], capture_output=True,
                                  text=True, check=True).stdout
        synopsis = rendered.split("\nSYNOPSIS\n")[1].split("\n\n")[0]
        self.assertEqual([line.strip() for line in synopsis.split("\n")],
                         [line.replace("Usage:", "").strip() for line in out.split("\n")
                          if line.startswith(("Usage: replugctl", "       replugctl"))])


if __name__ == "__main__":
    unittest.main()

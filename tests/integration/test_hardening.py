"""Hostile modules, hostile requests, faults under load: each refusal has its
own precise reason while the old version keeps serving; nothing is lost."""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import unittest

import fcgi_client
import harness
from harness import HTTP, REPLUGD, TOKEN, example_module, test_module

GOOD = "First version of code"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


class BrokenModules(harness.TestCase):
    """Every way a module can be broken, refused with its own reason."""

    def setUp(self):
        super().setUp()
        self.module(example_module("pluggable"), "pluggable")
        self.server = self.replugd(["--module-path", self.modules, "--route", "/p=pluggable"])
        self.live = os.path.join(self.modules, "pluggable.so")

    def refused(self, expected_reason):
        answer = self.server.admin("POST", "reload", query="route=/p")
        self.assertEqual(answer.status, 422, answer.text)
        reason = self.json_of(answer)["error"]
        self.assertIn(expected_reason, reason)
        self.assertTrue(reason.startswith("module " + self.live + ": ") or "not found" in reason, reason)
        self.assertEqual(self.server.request("/p").text, GOOD)  # the old version serves on
        return reason

    def put_bytes(self, data, mode=0o644):
        tmp = self.live + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.rename(tmp, self.live)

    def module_bytes(self, name):
        with open(test_module(name), "rb") as f:
            return f.read()

    def test_missing_file(self):
        os.unlink(self.live)
        self.refused("module 'pluggable' not found; looked in: " + self.live)

    def test_empty_file(self):
        self.put_bytes(b"")
        self.refused("file is empty")

    def test_not_elf(self):
        self.put_bytes(b"#!/bin/sh\necho not a module\n")
        self.refused("not an ELF file")

    def test_truncated_elf(self):
        # A copy still in progress: program headers point past the end.
        data = self.module_bytes("pluggable_v2")
        for cut in [64 + 56, len(data) // 3, len(data) - 100]:
            self.put_bytes(data[:cut])
            self.refused("truncated")

    def test_elf_for_another_architecture(self):
        data = bytearray(self.module_bytes("pluggable_v2"))
        struct.pack_into("<H", data, 18, 183)  # e_machine = EM_AARCH64
        self.put_bytes(bytes(data))
        self.refused("ELF for another architecture (e_machine 183; this server is x86_64)")

    def test_missing_handler_symbol(self):
        self.module(test_module("no_handler"), "pluggable")
        self.refused("no handler 'serve' (its handlers: none; export one with REPLUG_HANDLER(serve))")

    def test_not_a_replug_module(self):
        self.module(test_module("not_replug"), "pluggable")
        self.refused("not a replug module: no replug_module descriptor (include <replug/module.hpp>)")

    def test_wrong_abi_version(self):
        self.module(test_module("abi_mismatch"), "pluggable")
        self.refused("built against replug ABI 999 (no module descriptor), this server speaks ABI 2")

    def test_load_hook_refuses(self):
        self.module(test_module("hook_refuses"), "pluggable")
        self.refused("load hook refused the new version")

    def test_load_hook_throws(self):
        self.module(test_module("hook_throws"), "pluggable")
        self.refused("load hook threw: database not reachable")

    def test_gnu_unique_symbols(self):
        self.module(test_module("gnu_unique"), "pluggable")
        self.refused("GNU-unique symbol(s)")
        self.refused("rebuild with -fno-gnu-unique")

    def test_group_or_world_writable_file(self):
        self.put_bytes(self.module_bytes("pluggable_v2"), mode=0o666)
        self.refused(f"file is group- or world-writable (mode 0666); chmod go-w {self.live}")

    def test_world_writable_directory(self):
        os.chmod(self.modules, 0o777)
        self.module(test_module("pluggable_v2"), "pluggable")
        self.refused(f"directory {self.modules} is group- or world-writable (mode 0777); chmod go-w {self.modules}")
        os.chmod(self.modules, 0o1777)  # sticky, like /tmp: allowed
        answer = self.server.admin("POST", "reload", query="route=/p")
        self.assertEqual(answer.status, 200, answer.text)
        self.assertEqual(self.server.request("/p").text, "Second version of code")

    def test_missing_library_dependency(self):
        self.module(test_module("needs_gone"), "pluggable")
        self.refused("libreplug_test_gone.so: cannot open shared object file")

    def test_a_good_module_after_all_that_loads(self):
        # Each refusal gives its own module's reason, not one left over from the last.
        reasons = {
            "no_handler": "no handler 'serve' (its handlers: none; export one with REPLUG_HANDLER(serve))",
            "abi_mismatch": "built against replug ABI 999 (no module descriptor), this server speaks ABI 2; rebuild it against this server's SDK",
            "gnu_unique": "rebuild with -fno-gnu-unique (pkg-config --cflags replug)",
            "hook_throws": "load hook threw: database not reachable",
        }
        for name, reason in reasons.items():
            self.module(test_module(name), "pluggable")
            self.refused(reason)
        self.module(test_module("pluggable_v2"), "pluggable")
        answer = self.json_of(self.server.admin("POST", "reload", query="route=/p"))
        self.assertEqual((answer["old"]["version"], answer["new"]["version"]), ("1", "2"))


class HostileRequests(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.module(test_module("echo"), "echo")
        self.module(test_module("big"), "big")
        self.server = self.replugd(["--module-path", self.modules, "--threads", "2", "--listen-group", "www-data",
                                    "--route", "/echo/*=echo", "--route", "/big=big"])

    def path_of(self, answer):
        return dict(line.split(": ", 1) for line in answer.text.rstrip("\n").split("\n"))["path"]

    def test_unnormalized_paths_get_400(self):
        for path in ["//echo/x", "/echo//x", "/echo/../admin", "/echo/./x", "/echo/..", "/echo/.", "x/echo",
                     "/echo/" + "a" * 9000]:
            answer = self.server.request(path, REQUEST_URI=path[:100])
            self.assertEqual(answer.status, 400, path[:60])

    def test_paths_are_matched_literally(self):
        answer = self.server.request("/echo/%2e%2e/x")
        self.assertEqual((answer.status, self.path_of(answer)), (200, "/echo/%2e%2e/x"))
        self.assertEqual(self.server.request("/%65cho/x").status, 404)  # never decoded into /echo/x
        self.assertEqual(self.path_of(self.server.request("/echo/")), "/echo/")

    def test_missing_script_name_uses_document_uri_then_request_uri(self):
        answer = self.server.request("/echo/a", SCRIPT_NAME="", DOCUMENT_URI="/echo/from-document-uri")
        self.assertEqual(self.path_of(answer), "/echo/from-document-uri")
        answer = self.server.request("/echo/a", SCRIPT_NAME="", DOCUMENT_URI="", REQUEST_URI="/echo/from-uri?q=1")
        self.assertEqual(self.path_of(answer), "/echo/from-uri")
        answer = self.server.request("/echo/a", SCRIPT_NAME="", DOCUMENT_URI="", REQUEST_URI="")
        self.assertEqual(answer.status, 400)

    def test_hostile_fastcgi_is_closed_unanswered_and_costs_nothing(self):
        # libfcgi would malloc ~2 GiB for this name length (or write through
        # NULL), and leak on the management record: both never reach it.
        begin = fcgi_client.record(fcgi_client.BEGIN_REQUEST, 1, struct.pack("!HB5x", 1, 0))
        huge = fcgi_client.record(fcgi_client.PARAMS, 1, struct.pack("!I", 0xFFFFFFFF) + b"\x01AB")
        hostile = [begin + huge + fcgi_client.record(fcgi_client.PARAMS, 1),
                   begin + huge,  # then EOF
                   fcgi_client.record(42, 0, b"??") * 1000]
        rss_before = rss_kib(self.server.pid)
        for _ in range(20):
            for data in hostile:
                with fcgi_client.connect(self.server.address) as sock:
                    sock.sendall(data)
                    sock.shutdown(socket.SHUT_WR)
                    try:
                        self.assertEqual(sock.recv(100), b"")  # closed, nothing answered
                    except ConnectionResetError:
                        pass  # closed with our bytes unread: also unanswered
        if not harness.SANITIZED:
            self.assertLess(rss_kib(self.server.pid) - rss_before, 4096)
        self.assertIn("closing a connection whose FastCGI request head is malformed", self.server.log())
        self.assertEqual(self.server.request("/echo/still-fine").status, 200)

    def test_a_slow_client_holds_no_thread(self):
        # Four clients each send half a request head and stall; two threads.
        stalled = []
        for _ in range(4):
            sock = fcgi_client.connect(self.server.address)
            whole = fcgi_client.encode_request(fcgi_client.cgi_params("/echo/slow"))
            sock.sendall(whole[:40])
            stalled.append((sock, whole))
        for _ in range(5):
            self.assertEqual(self.server.request("/echo/fast", timeout=5).status, 200)
        for sock, whole in stalled:  # and the stalled ones finish when their bytes come
            sock.sendall(whole[40:])
            self.assertEqual(fcgi_client.read_response(sock).status, 200)
            sock.close()

    def test_ten_megabyte_bodies_both_ways_through_nginx(self):
        front = self.nginx(self.server.address)
        client = HTTP(front.port, timeout=60)
        self.addCleanup(client.close)
        body = bytes(range(256)) * (10 * 1024 * 1024 // 256)
        expected = 0
        for c in body:
            expected = (expected * 31 + c) % 1000000007
        status, text, _ = client.request("POST", "/big", body=body,
                                         headers={"Content-Type": "application/octet-stream"})
        self.assertEqual((status, text), (200, f"received {len(body)} bytes, checksum {expected}"))
        client.connection.request("GET", "/big?10485760")
        response = client.connection.getresponse()
        data = response.read()
        self.assertEqual((response.status, len(data), data.count(b"x")), (200, 10485760, 10485760))


class AdminHardening(harness.TestCase):
    def test_world_readable_token_file_is_refused_at_start(self):
        token_file = os.path.join(self.dir, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(token_file, 0o644)
        result = subprocess.run([REPLUGD, "--listen", "unix:" + os.path.join(self.dir, "s.sock"),
                                 "--admin-token-file", token_file], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stderr, f"replugd: --admin-token-file {token_file}: readable by everyone "
                                        f"(mode 0644); chmod o-r {token_file}\n")

    def test_admin_answers_never_echo_the_token(self):
        self.module(example_module("pluggable"), "pluggable")
        server = self.replugd(["--module-path", self.modules, "--route", "/p=pluggable"])
        for method, endpoint, token in [("GET", "status", TOKEN), ("GET", "status", TOKEN[:-1]),
                                        ("POST", "reload", TOKEN), ("GET", "nope", TOKEN), ("GET", "nope", "x" * 30)]:
            answer = server.admin(method, endpoint, token=token)
            self.assertNotIn(TOKEN[:12], answer.text)
            self.assertNotIn(TOKEN[:12], str(answer.headers))
        self.assertNotIn(TOKEN, server.log())

    def test_admin_off_without_token_file(self):
        self.module(example_module("hello"), "hello")
        server = self.replugd(["--module-path", self.modules, "--route", "/*=hello"], token=False)
        answer = server.request("/-/status", headers={"Authorization": "Bearer " + TOKEN})
        self.assertEqual(answer.text, "Hello from replug: GET /-/status\n")  # just a path
        self.assertIn("admin=off", server.log())


class FaultsUnderLoad(harness.TestCase):
    BODIES = {"Second version of code", "Third version of code"}

    def load(self, port, clients, stop, failures, seen):
        def run():
            http = HTTP(port)
            try:
                while not stop.is_set():
                    status, body, _ = http.get("/p")
                    seen.append(body)
                    if status != 200 or body not in self.BODIES:
                        failures.append((status, body))
            finally:
                http.close()
        return harness.ClientThreads([run] * clients)

    def start(self, threads="4"):
        self.module(test_module("pluggable_v2"), "pluggable")
        self.server = self.replugd(["--module-path", self.modules, "--route", "/p=pluggable", "--threads", threads,
                                    "--listen-group", "www-data"])
        self.front = self.nginx(self.server.address)

    def test_a_thousand_swaps_under_32_connections(self):
        self.start()
        stop, failures, seen = threading.Event(), [], []
        clients = self.load(self.front.port, 32, stop, failures, seen)
        try:
            for round_number in range(1000):
                version = 3 if round_number % 2 == 0 else 2
                self.module(test_module(f"pluggable_v{version}"), "pluggable")
                answer = self.server.admin("POST", "reload", query="route=/p")
                self.assertEqual(answer.status, 200, answer.text)
        finally:
            stop.set()
            clients.join()
        self.assertEqual(failures, [])
        self.assertEqual(set(seen), self.BODIES)
        print(f"\n1000 swaps under 32 connections: {len(seen)} requests, 0 failed")

    def test_hup_storm_under_load(self):
        self.start()
        stop, failures, seen = threading.Event(), [], []
        clients = self.load(self.front.port, 8, stop, failures, seen)
        try:
            for i in range(100):
                if i == 50:
                    self.module(test_module("pluggable_v3"), "pluggable")
                self.server.send(signal.SIGHUP)
            probe = HTTP(self.front.port)
            self.addCleanup(probe.close)
            harness.wait_for(lambda: probe.get("/p")[1] == "Third version of code", what="the last HUP's state")
        finally:
            stop.set()
            clients.join()
        self.assertEqual(failures, [])
        self.assertTrue(self.server.running())
        status = self.json_of(self.server.admin("GET", "status"))
        self.assertEqual(status["routes"][0]["current"]["version"], "3")

    def test_concurrent_admin_reloads_are_serialized(self):
        self.start()
        answers = []

        def reload_many():
            for _ in range(10):
                answers.append(self.server.admin("POST", "reload", query="route=/p"))
        harness.ClientThreads([reload_many] * 8).join()
        self.assertEqual([a.status for a in answers], [200] * 80)
        generations = sorted(json.loads(a.text)["new"]["generation"] for a in answers)
        self.assertEqual(generations, list(range(2, 82)))  # each answered once, none lost or doubled
        status = self.json_of(self.server.admin("GET", "status"))
        self.assertEqual(status["routes"][0]["current"]["generation"], 81)

    def test_sigterm_under_load_completes_accepted_requests(self):
        self.module(test_module("slow_v1"), "slow")
        # Nine threads: eight held by slow requests, one left to answer status.
        server = self.replugd(["--module-path", self.modules, "--route", "/slow=slow", "--threads", "9"])
        answers = []
        clients = harness.ClientThreads(
            [lambda: answers.append(server.request("/slow", query="3000", timeout=20))] * 8)
        harness.wait_for(lambda: '"in_flight":8' in server.admin("GET", "status").text, what="8 requests in flight")
        self.assertEqual(server.stop(signal.SIGTERM), 0)
        clients.join()
        self.assertEqual([(a.status, a.text) for a in answers], [(200, "slow 1 after 3000ms")] * 8)


class ReloadLeaks(harness.TestCase):
    def snapshot(self, pid):
        rss = rss_kib(pid)
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/maps") as f:
            maps = f.read()
        return rss, fds, maps.count("memfd:replug:"), len(maps.splitlines())

    def test_two_thousand_reloads_give_back_what_they_take(self):
        reloads = int(os.environ.get("REPLUG_LEAK_RELOADS", "2000"))
        self.module(test_module("pluggable_v2"), "pluggable")
        server = self.replugd(["--module-path", self.modules, "--route", "/p=pluggable"])
        # One kept connection for everything, so that the server's fds are
        # the same set at both snapshots.
        sock = fcgi_client.connect(server.address)
        self.addCleanup(sock.close)
        params = fcgi_client.cgi_params("/-/reload", method="POST", query="route=/p",
                                        headers={"Authorization": "Bearer " + TOKEN})

        def reload(times):
            for _ in range(times):
                sock.sendall(fcgi_client.encode_request(params, keep=True))
                self.assertEqual(fcgi_client.read_response(sock).status, 200)
        reload(20)  # warm up the allocator and the loader's caches
        before = self.snapshot(server.pid)
        reload(reloads)
        after = self.snapshot(server.pid)
        print(f"\n{reloads} reloads: RSS {before[0]} -> {after[0]} KiB, fds {before[1]} -> {after[1]}, "
              f"module copies mapped {before[2]} -> {after[2]}, map lines {before[3]} -> {after[3]}")
        if not harness.SANITIZED:  # ASan's quarantine and shadow memory keep RSS up by design
            self.assertLessEqual(after[0] - before[0], 8 * 1024)  # generous: 8 MiB
        self.assertEqual(after[1], before[1])
        self.assertEqual(after[2], before[2])  # current + previous copies only
        # No mapping per reload; a malloc arena for a thread that first
        # allocates under load may add a couple, never one per reload.
        self.assertLessEqual(after[3] - before[3], 8)
        self.assertEqual(os.listdir(self.modules), ["pluggable.so"])  # no temp files


if __name__ == "__main__":
    unittest.main()

"""The systemd unit's SystemCallFilter against what replugd really calls:
replugd runs under strace through an admin reload, a SIGHUP reload and a
--watch reload, and every system call it made must be allowed. Registered
only in builds without a sanitizer (a sanitizer's runtime makes calls the
production binary never does); see tests/integration/meson.build."""

import os
import re
import signal
import unittest

import harness
from harness import example_module, test_module
from test_systemd import STRACE, syscalls_of, unit_settings


class SyscallFilter(harness.TestCase):
    def test_every_system_call_passes_the_units_filter(self):
        filters = unit_settings("replugd.service")["SystemCallFilter"]
        allowed, denied = set(), set()
        for line in filters:
            for group in line.lstrip("~").split():
                (denied if line.startswith("~") else allowed).update(syscalls_of(group))
        self.assertTrue(allowed and denied, filters)

        self.module(example_module("pluggable"), "pluggable")
        counts = os.path.join(self.dir, "strace.txt")
        server = self.replugd(["--listen", "unix:" + os.path.join(self.dir, "replugd.sock"), "--module-path",
                               self.modules, "--route", "/pluggable=pluggable", "--watch"],
                              launcher=[STRACE, "-f", "-qq", "-c", "-o", counts])
        self.assertEqual(server.request("/pluggable").text, "First version of code")
        # An admin reload (--watch may get there first: both are traced).
        self.module(test_module("pluggable_v2"), "pluggable")
        self.assertEqual(server.admin("POST", "reload", query="route=/pluggable").status, 200)
        harness.wait_for(lambda: server.request("/pluggable").text == "Second version of code", what="version 2")
        # A SIGHUP reload.
        replugd_pid = int(re.search(r" pid=(\d+)\n", server.log()).group(1))
        os.kill(replugd_pid, signal.SIGHUP)
        harness.wait_for(lambda: re.search(r"SIGHUP: re-reading.*\n(.*\n)*.* reload route=/pluggable module=pluggable "
                                           r"2 -> 2 ", server.log()), what="the SIGHUP reload")
        # A --watch reload.
        self.module(test_module("pluggable_v3"), "pluggable")
        harness.wait_for(lambda: server.request("/pluggable").text == "Third version of code", what="version 3")
        self.assertEqual(server.request("/-/status", headers={"Authorization": "Bearer " + harness.TOKEN}).status,
                         200)
        os.kill(replugd_pid, signal.SIGTERM)
        self.assertEqual(server.process.wait(30), 0)  # strace exits as its tracee did

        with open(counts) as f:
            rows = f.read().splitlines()
        used = {row.split()[-1] for row in rows[2:] if row.split() and not row.startswith(("-", "%"))} - {"total"}
        self.assertIn("memfd_create", used)  # the loader's private copies
        self.assertIn("inotify_add_watch", used)  # --watch
        self.assertEqual(sorted(used - allowed), [], "system calls outside SystemCallFilter=@system-service")
        self.assertEqual(sorted(used & denied), [], "system calls in SystemCallFilter=~@privileged")



if __name__ == "__main__":
    unittest.main()

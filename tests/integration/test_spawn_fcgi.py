"""replugd started by the real spawn-fcgi, which binds the socket and hands it
over on fd 0: it serves (through nginx, whose workers reach the socket by
its group), reloads by admin URL and by SIGHUP, and exits 0 on SIGTERM."""

import json
import os
import pwd
import grp
import shutil
import signal
import stat
import unittest

import harness
from harness import HTTP, example_module, test_module

SPAWN_FCGI = shutil.which("spawn-fcgi")


class SpawnFcgi(harness.TestCase):
    def test_serves_reloads_and_stops_on_sigterm(self):
        self.module(example_module("pluggable"), "pluggable")
        socket_path = os.path.join(self.dir, "spawned.sock")
        # -n: no fork, spawn-fcgi execs replugd in its own process, so the
        # PID we hold is replugd's.
        server = self.replugd(["--module-path", self.modules, "--route", "/pluggable=pluggable"],
                              address="unix:" + socket_path,
                              launcher=[SPAWN_FCGI, "-n", "-s", socket_path, "-M", "0660", "-G", "www-data", "--"])
        # The socket was there before replugd: wait for it to say it serves.
        harness.wait_for(lambda: "serving on inherited socket (fd 0) threads=" in server.log(), what="the start line")
        self.assertIn(f" pid={server.pid}\n", server.log())
        info = os.stat(socket_path)
        self.assertTrue(stat.S_ISSOCK(info.st_mode))
        self.assertEqual((stat.S_IMODE(info.st_mode), pwd.getpwuid(info.st_uid).pw_name,
                          grp.getgrgid(info.st_gid).gr_name), (0o660, "root", "www-data"))

        front = self.nginx(server.address)
        http = HTTP(front.port)
        self.addCleanup(http.close)
        self.assertEqual(http.get("/pluggable")[:2], (200, "First version of code"))

        self.module(test_module("pluggable_v2"), "pluggable")
        answer = server.admin("POST", "reload", query="route=/pluggable")
        self.assertEqual(answer.status, 200, answer.text)
        self.assertEqual(json.loads(answer.text)["message"], "Code swapped to 2")
        self.assertEqual(http.get("/pluggable")[:2], (200, "Second version of code"))

        self.module(test_module("pluggable_v3"), "pluggable")
        server.send(signal.SIGHUP)
        harness.wait_for(lambda: http.get("/pluggable")[1] == "Third version of code", what="SIGHUP reload")

        self.assertEqual(server.stop(), 0)
        self.assertIn("SIGTERM: stopping", server.log())
        self.assertTrue(server.log().endswith(" info stopped\n"), server.log())


if __name__ == "__main__":
    unittest.main()

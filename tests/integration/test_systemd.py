"""The shipped systemd units (packaging/systemd/): systemd-analyze verifies
them and rates their hardening; the real systemd-socket-activate starts
replugd as the units say (the socket on fd 3 through LISTEN_FDS/LISTEN_PID,
ExecStart, ExecReload), and replugd serves, reloads and exits 0; every
system call replugd makes passes the unit's SystemCallFilter.

systemd is not PID 1 here: systemctl cannot run, but systemd-analyze verify,
systemd-analyze security --offline and systemd-socket-activate do."""

import grp
import os
import pwd
import re
import shlex
import shutil
import signal
import stat
import subprocess
import unittest

import harness
from harness import HTTP, REPLUGD, SOURCE_ROOT, example_module, test_module

UNITS = os.path.join(SOURCE_ROOT, "packaging", "systemd")
SOCKET_ACTIVATE = shutil.which("systemd-socket-activate")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
STRACE = shutil.which("strace")
INSTALLED_REPLUGD = "/usr/sbin/replugd"
INSTALLED_CONFIG = "/etc/replug/replugd.conf"
INSTALLED_REPLUGCTL = "/usr/bin/replugctl"
INSTALLED_TOKEN = "/etc/replug/admin.token"
REPLUGCTL = os.environ.get("REPLUGCTL", "replugctl")


def exec_reload(service, socket_address, token_file):
    """The unit's ExecReload as a command line, with the built replugctl, the
    test's socket and the test's token file in place of the installed ones."""
    command = shlex.split(service["ExecReload"][0])
    assert command[0] == INSTALLED_REPLUGCTL, command
    replaced = {INSTALLED_REPLUGCTL: REPLUGCTL, "unix:/run/replug/replugd.sock": socket_address,
                INSTALLED_TOKEN: token_file}
    assert all(path in command for path in replaced), command
    return [replaced.get(word, word) for word in command]


def unit_settings(name):
    """KEY -> [values] of a unit file, in order (repeated keys add up)."""
    settings = {}
    with open(os.path.join(UNITS, name)) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")):
                key, _, value = line.partition("=")
                settings.setdefault(key, []).append(value)
    return settings


def syscalls_of(group, seen=None):
    """The system calls in a systemd syscall-filter group, nested groups expanded."""
    seen = {} if seen is None else seen
    if group not in seen:
        listing = subprocess.run([SYSTEMD_ANALYZE, "syscall-filter", group], capture_output=True, text=True,
                                 check=True).stdout.splitlines()
        names = set()
        for line in listing[1:]:
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            names |= syscalls_of(entry, seen) if entry.startswith("@") else {entry}
        seen[group] = names
    return seen[group]


class Units(harness.TestCase):
    def copy_units(self):
        """The units in a temp dir, with only ExecStart's and ExecReload's
        binaries pointed at the built ones, and the man page where man(1)
        finds it."""
        units = os.path.join(self.dir, "units")
        os.makedirs(units)
        for name in ("replugd.service", "replugd.socket"):
            with open(os.path.join(UNITS, name)) as f:
                text = f.read()
            if name == "replugd.service":
                self.assertEqual(text.count("ExecStart=" + INSTALLED_REPLUGD + " "), 1)
                text = text.replace("ExecStart=" + INSTALLED_REPLUGD + " ", "ExecStart=" + REPLUGD + " ")
                self.assertEqual(text.count("ExecReload=" + INSTALLED_REPLUGCTL + " "), 1)
                text = text.replace("ExecReload=" + INSTALLED_REPLUGCTL + " ",
                                    "ExecReload=" + os.path.abspath(REPLUGCTL) + " ")
            with open(os.path.join(units, name), "w") as f:
                f.write(text)
        man = os.path.join(self.dir, "man")
        os.makedirs(os.path.join(man, "man8"))
        shutil.copy(os.path.join(SOURCE_ROOT, "packaging", "man", "replugd.8"), os.path.join(man, "man8"))
        return units, dict(os.environ, MANPATH=man)

    def test_systemd_analyze_verify_finds_nothing(self):
        units, env = self.copy_units()
        result = subprocess.run([SYSTEMD_ANALYZE, "verify", "replugd.socket", "replugd.service"], cwd=units,
                                env=env, capture_output=True, text=True)
        self.assertEqual((result.returncode, result.stdout + result.stderr), (0, ""))

    def test_systemd_analyze_verify_would_say_so(self):
        # The check above is not vacuous: a misspelt key is reported.
        units, env = self.copy_units()
        service = os.path.join(units, "replugd.service")
        with open(service) as f:
            text = f.read()
        with open(service, "w") as f:
            f.write(text.replace("NoNewPrivileges=", "NoNewPrivilege="))
        result = subprocess.run([SYSTEMD_ANALYZE, "verify", "replugd.socket", "replugd.service"], cwd=units,
                                env=env, capture_output=True, text=True)
        self.assertIn("Unknown key 'NoNewPrivilege' in section [Service]", result.stderr)

    def test_hardening_exposure_is_low(self):
        units, env = self.copy_units()
        result = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", "replugd.service"],
                                cwd=units, env=env, capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        exposure = re.search(r"Overall exposure level for replugd.service: ([0-9.]+) ", result.stdout)
        self.assertIsNotNone(exposure, result.stdout + result.stderr)
        # 0 is sealed, 10 is an unhardened service; 1.4 when this was written.
        self.assertLessEqual(float(exposure.group(1)), 2.0, result.stdout)

    def test_the_units_say_what_the_deployment_needs(self):
        service = unit_settings("replugd.service")
        socket_unit = unit_settings("replugd.socket")
        self.assertEqual(service["ExecStart"], [INSTALLED_REPLUGD + " --config " + INSTALLED_CONFIG])
        self.assertEqual(service["ExecReload"], [INSTALLED_REPLUGCTL + " --socket unix:" + socket_unit["ListenStream"][0]
                                                 + " --token-file " + INSTALLED_TOKEN + " --timeout 80 reload"])
        self.assertEqual(socket_unit["SocketUser"], service["User"])  # ExecReload's replugctl may connect
        self.assertEqual(service["Requires"], ["replugd.socket"])
        self.assertEqual(service["RuntimeDirectory"], ["replug"])
        self.assertEqual(service["User"], ["replug"])
        self.assertEqual(socket_unit["ListenStream"], ["/run/replug/replugd.sock"])
        self.assertEqual((socket_unit["SocketMode"], socket_unit["SocketGroup"]), (["0660"], ["www-data"]))


class SocketActivation(harness.TestCase):
    def test_socket_activated_as_the_units_say(self):
        service = unit_settings("replugd.service")
        socket_unit = unit_settings("replugd.socket")
        self.module(example_module("pluggable"), "pluggable")
        self.module(example_module("hello"), "hello")

        # ExecStart with its two paths pointed at the build and at a copy of
        # the shipped config whose module path is this test's directory.
        config = os.path.join(self.dir, "replugd.conf")
        with open(os.path.join(SOURCE_ROOT, "packaging", "replugd.conf")) as f:
            text = f.read()
        with open(config, "w") as f:
            f.write(text.replace("module-path = /srv/replug\n", f"module-path = {self.modules}\n"))
        command = shlex.split(service["ExecStart"][0])
        self.assertEqual(command[:3], [INSTALLED_REPLUGD, "--config", INSTALLED_CONFIG])
        socket_path = os.path.join(self.dir, "replugd.sock")
        # The command line wins: these routes replace the config's.
        server = self.replugd(["--config", config, "--route", "/hello=hello", "--route", "/pluggable=pluggable",
                               *command[3:]],
                              address="unix:" + socket_path, wait=False,
                              launcher=[SOCKET_ACTIVATE, "-l", socket_path])
        harness.wait_for(lambda: f"Listening on {socket_path} as 3." in server.log(),
                         what="systemd-socket-activate to listen")
        # What the socket unit's SocketUser=, SocketMode= and SocketGroup= do.
        os.chown(socket_path, pwd.getpwnam(socket_unit["SocketUser"][0]).pw_uid,
                 grp.getgrnam(socket_unit["SocketGroup"][0]).gr_gid)
        os.chmod(socket_path, int(socket_unit["SocketMode"][0], 8))
        self.assertNotIn("serving on", server.log())  # started at the first connection, as under systemd

        front = self.nginx(server.address)
        http = HTTP(front.port)
        self.addCleanup(http.close)
        self.assertEqual(http.get("/pluggable")[:2], (200, "First version of code"))
        self.assertEqual(http.get("/hello")[:2], (200, "Hello from replug: GET /hello\n"))
        # The first worker may serve before the master has started the others and said so.
        harness.wait_for(lambda: "serving on systemd socket (fd 3) threads=" in server.log(), what="the start line")
        self.assertIn(f" pid={server.pid}\n", server.log())  # systemd's MAINPID is replugd's

        # systemctl reload: the unit's ExecReload; the new code serves when it returns.
        self.module(test_module("pluggable_v2"), "pluggable")
        reloaded = subprocess.run(exec_reload(service, server.address, os.path.join(self.dir, "admin.token")),
                                  capture_output=True, text=True, timeout=120)
        self.assertEqual((reloaded.returncode, reloaded.stderr), (0, ""))
        self.assertIn("/pluggable: 1 -> 2 (generation 2, ", reloaded.stdout)
        self.assertEqual(http.get("/pluggable")[:2], (200, "Second version of code"))

        self.module(test_module("pluggable_v3"), "pluggable")
        status, body = http.admin("POST", "reload?route=/pluggable")
        self.assertEqual(status, 200, body)
        self.assertEqual(http.get("/pluggable")[:2], (200, "Third version of code"))

        self.assertEqual(server.stop(), 0)
        self.assertTrue(server.log().endswith(" info stopped\n"), server.log())


class SystemctlReload(harness.TestCase):
    """`systemctl reload replugd` runs ExecReload and reports what it did:
    the unit's own line, against a running replugd with the shipped config."""

    def test_it_waits_for_the_reload_and_fails_with_the_reason_when_refused(self):
        service = unit_settings("replugd.service")
        self.module(example_module("hello"), "hello")
        config = os.path.join(self.dir, "replugd.conf")
        with open(os.path.join(SOURCE_ROOT, "packaging", "replugd.conf")) as f:
            text = f.read()
        self.assertIn("\nadmin-token-file = " + INSTALLED_TOKEN + "\n", text)  # admin is on as shipped
        with open(config, "w") as f:
            f.write(text.replace("module-path = /srv/replug\n", f"module-path = {self.modules}\n"))
        # The harness's --admin-token-file (this test's token) wins over the config's.
        server = self.replugd(["--config", config])
        command = exec_reload(service, server.address, os.path.join(self.dir, "admin.token"))
        self.assertEqual(server.request("/hello").text, "Hello from replug: GET /hello\n")

        # A broken module (a truncated ELF): non-zero, and the reason on stderr (the journal).
        hello = os.path.join(self.modules, "hello.so")
        with open(hello, "rb") as f:
            image = f.read()
        broken = hello + ".new"
        with open(broken, "wb") as f:
            f.write(image[: len(image) // 2])
        os.rename(broken, hello)
        refused = subprocess.run(command, capture_output=True, text=True, timeout=120)
        self.assertEqual((refused.returncode, refused.stdout), (1, ""), refused.stderr)
        self.assertRegex(refused.stderr, r"^replugctl: reload: route /hello: module " + re.escape(hello) + ": .+\n$")
        self.assertEqual(server.request("/hello").text, "Hello from replug: GET /hello\n")  # the old code serves

        # A good module: 0 once it serves.
        self.module(example_module("pluggable"), "hello")
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        self.assertRegex(done.stdout, r"^/hello: 1 -> 1 \(generation 2, ")
        self.assertEqual(server.request("/hello").text, "First version of code")

        # Nothing listening (replugd is down): 3, "no answer".
        self.assertEqual(server.stop(), 0)
        down = subprocess.run(command, capture_output=True, text=True, timeout=120)
        self.assertEqual(down.returncode, 3, down.stderr)
        self.assertIn("cannot connect to " + server.address, down.stderr)


if __name__ == "__main__":
    unittest.main()

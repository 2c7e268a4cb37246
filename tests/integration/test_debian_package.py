"""The Debian packages, for real: packaging/build-deb builds replugd and
replug-dev, dpkg installs them into this machine (root; removed again after
if they were not installed before), an out-of-tree module is built with
nothing but g++ and `pkg-config --cflags replug` (and the packaged example
with meson), and the installed replugd serves them through the real nginx,
started as the installed units say: socket-activated, as user replug, with
the installed config. Suite 'package': minutes of build, run alone."""

import os
import pwd
import grp
import re
import shlex
import shutil
import subprocess
import unittest

import harness
from harness import HTTP, REPLUGD, SOURCE_ROOT, TOKEN

BUILD_DEB = os.path.join(SOURCE_ROOT, "packaging", "build-deb")
SOCKET_ACTIVATE = shutil.which("systemd-socket-activate")
INSTALLED = "/usr/sbin/replugd"
UNIT_DIR = "/lib/systemd/system"

MODULE_SOURCE = """
#include <replug/module.hpp>

static void serve(replug::request& req, replug::response& res) {
    res.header("Content-Type", "text/plain");
    res << BUILD_NAME << " build, out of tree: " << req.method() << ' ' << req.path() << '\\n';
}
REPLUG_HANDLER(serve)
REPLUG_VERSION(BUILD_VERSION)
"""


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def installed(package):
    status = run(["dpkg-query", "-W", "-f=${Status}", package]).stdout
    return status.endswith("install ok installed")


class DebianPackage(harness.TestCase):
    def build_debs(self):
        output = os.path.join(self.dir, "debs")
        log_path = os.path.join(self.dir, "build-deb.log")
        env = dict(os.environ, DEB_BUILD_OPTIONS=f"nocheck parallel={os.cpu_count() or 2}")
        with open(log_path, "w") as log:
            status = subprocess.run([BUILD_DEB, output], stdout=log, stderr=subprocess.STDOUT, env=env,
                                    timeout=900).returncode
        with open(log_path) as log:
            self.assertEqual(status, 0, "packaging/build-deb failed:\n" + log.read()[-6000:])
        return output

    def install_packages(self, debs):
        was_installed = installed("replugd") or installed("replug-dev")
        result = run(["dpkg", "-i", *debs])
        if not was_installed:
            self.addCleanup(run, ["dpkg", "--purge", "replugd", "replug-dev"])
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def build_module(self, name, version, directory):
        """What a module author runs, with the installed SDK only."""
        source = os.path.join(self.dir, name + ".cpp")
        with open(source, "w") as f:
            f.write(MODULE_SOURCE)
        target = os.path.join(directory, name + ".so")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PKG_CONFIG")}
        command = (f"g++ -std=c++20 -O2 -shared $(pkg-config --cflags replug) "
                   f"-DBUILD_NAME='\"{name}\"' -DBUILD_VERSION='\"{version}\"' {source} -o {target}.new"
                   f" && mv {target}.new {target}")
        result = run(["sh", "-c", command], env=env)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_build_install_and_serve_an_out_of_tree_module(self):
        version = run(["dpkg-parsechangelog", "-l", os.path.join(SOURCE_ROOT, "packaging", "debian", "changelog"),
                       "-S", "Version"], check=True).stdout.strip()
        built_version = run([REPLUGD, "--version"], check=True).stdout
        self.assertTrue(built_version.startswith(f"replugd {version} "),
                        f"packaging/debian/changelog says {version}, meson says {built_version}")
        arch = run(["dpkg", "--print-architecture"], check=True).stdout.strip()

        output = self.build_debs()
        debs = [os.path.join(output, f"{package}_{version}_{arch}.deb") for package in ("replugd", "replug-dev")]
        for deb in debs:
            self.assertTrue(os.path.exists(deb), sorted(os.listdir(output)))
        self.install_packages(debs)

        # The installed layout.
        files = set(run(["dpkg", "-L", "replugd"], check=True).stdout.split())
        for path in [INSTALLED, "/usr/bin/replugctl", "/etc/replug/replugd.conf", "/usr/lib/replug/modules/hello.so",
                     f"{UNIT_DIR}/replugd.service", f"{UNIT_DIR}/replugd.socket",
                     "/usr/share/man/man8/replugd.8.gz", "/usr/share/man/man1/replugctl.1.gz"]:
            self.assertIn(path, files)
        dev_files = set(run(["dpkg", "-L", "replug-dev"], check=True).stdout.split())
        for path in ["/usr/include/replug/module.hpp", "/usr/share/man/man7/replug-module.7.gz",
                     "/usr/share/doc/replug-dev/examples/meson.build", "/usr/share/doc/replug-dev/examples/greeting.cpp"]:
            self.assertIn(path, dev_files)
        self.assertTrue(any(p.endswith("/pkgconfig/replug.pc") for p in dev_files), dev_files)
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "replugd"], check=True).stdout
        self.assertIn("/etc/replug/replugd.conf ", conffiles)
        with open("/etc/replug/replugd.conf") as installed_conf, \
                open(os.path.join(SOURCE_ROOT, "packaging", "replugd.conf")) as shipped:
            self.assertEqual(installed_conf.read(), shipped.read())
        user = pwd.getpwnam("replug")
        self.assertEqual((user.pw_dir, user.pw_shell, grp.getgrgid(user.pw_gid).gr_name),
                         ("/nonexistent", "/usr/sbin/nologin", "replug"))
        # The admin token the config names, made at install: root:replug 0640, 32 base64 characters.
        made = os.stat("/etc/replug/admin.token")
        self.assertEqual((made.st_uid, made.st_gid, made.st_mode & 0o777), (0, user.pw_gid, 0o640))
        with open("/etc/replug/admin.token") as f:
            self.assertRegex(f.read(), r"^[A-Za-z0-9+/]{32}\n$")
        self.assertEqual(run(["man", "-w", "replugd"]).stdout, "/usr/share/man/man8/replugd.8.gz\n")
        self.assertEqual(run([INSTALLED, "--version"]).stdout, built_version)

        # The installed config works as it is, and the installed units verify.
        check = run([INSTALLED, "--check", "--config", "/etc/replug/replugd.conf"])
        self.assertEqual((check.returncode, check.stdout),
                         (0, "ok route=/hello module=hello file=/usr/lib/replug/modules/hello.so version=1\n"
                             "1 route(s) load\n"), check.stderr)
        verify = run(["systemd-analyze", "verify", f"{UNIT_DIR}/replugd.socket", f"{UNIT_DIR}/replugd.service"])
        self.assertEqual((verify.returncode, verify.stdout + verify.stderr), (0, ""))

        # The SDK as pkg-config gives it.
        pkg_env = {k: v for k, v in os.environ.items() if not k.startswith("PKG_CONFIG")}
        self.assertEqual(run(["pkg-config", "--cflags", "replug"], env=pkg_env).stdout.split(),
                         ["-fno-gnu-unique", "-fvisibility=hidden", "-fvisibility-inlines-hidden"])
        self.assertEqual(run(["pkg-config", "--variable=moduledir", "replug"], env=pkg_env).stdout,
                         "/usr/lib/replug/modules\n")
        self.build_module("first", "1", self.modules)
        example = os.path.join(self.dir, "example")
        shutil.copytree("/usr/share/doc/replug-dev/examples", example)
        for step in (["meson", "setup", "build"], ["meson", "compile", "-C", "build"]):
            result = run(step, cwd=example, env=pkg_env)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        harness.install(os.path.join(example, "build", "greeting.so"), os.path.join(self.modules, "greeting.so"))

        # Served as the units say: the socket from systemd (fd 3), ExecStart,
        # User=replug; the socket's group and mode as replugd.socket sets them.
        token_file = os.path.join(self.dir, "admin.token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        os.chown(token_file, 0, user.pw_gid)
        os.chmod(token_file, 0o640)
        exec_start = self.unit_value("replugd.service", "ExecStart")
        socket_path = os.path.join(self.dir, "replugd.sock")
        server = self.replugd(
            shlex.split(exec_start)[1:] + ["--module-path", self.modules, "--module-path", "/usr/lib/replug/modules",
                                           "--route", "/hello=hello", "--route", "/out-of-tree/*=first",
                                           "--route", "/greeting=greeting", "--admin-token-file", token_file],
            program=shlex.split(exec_start)[0], address="unix:" + socket_path, token=False, wait=False,
            launcher=[SOCKET_ACTIVATE, "-l", socket_path, "setpriv", "--reuid=replug", "--regid=replug",
                      "--init-groups", "--"])
        harness.wait_for(lambda: f"Listening on {socket_path} as 3." in server.log(), what="the socket")
        os.chown(socket_path, pwd.getpwnam(self.unit_value("replugd.socket", "SocketUser")).pw_uid,
                 grp.getgrnam(self.unit_value("replugd.socket", "SocketGroup")).gr_gid)
        os.chmod(socket_path, int(self.unit_value("replugd.socket", "SocketMode"), 8))
        front = self.nginx(server.address)
        http = HTTP(front.port)
        self.addCleanup(http.close)

        self.assertEqual(http.get("/hello")[:2], (200, "Hello from replug: GET /hello\n"))
        self.assertEqual(http.get("/out-of-tree/a")[:2], (200, "first build, out of tree: GET /out-of-tree/a\n"))
        self.assertEqual(http.get("/greeting?name=debian")[:2], (200, "Hello, debian\n"))
        # The first worker may serve before the master has started the others and said so.
        harness.wait_for(lambda: "serving on systemd socket (fd 3)" in server.log(), what="the start line")
        with open(f"/proc/{server.pid}/status") as f:
            self.assertIn(f"\nUid:\t{user.pw_uid}\t{user.pw_uid}\t", f.read())

        # A new build, swapped in with the installed replugctl.
        self.build_module("second", "2", self.dir)
        harness.install(os.path.join(self.dir, "second.so"), os.path.join(self.modules, "first.so"))
        reload = run(["/usr/bin/replugctl", "--socket", server.address, "--token-file", token_file,
                      "reload", "/out-of-tree/*"])
        self.assertEqual(reload.returncode, 0, reload.stdout + reload.stderr)
        self.assertTrue(reload.stdout.startswith("/out-of-tree/*: 1 -> 2 (generation 2, "), reload.stdout)
        self.assertEqual(http.get("/out-of-tree/a")[:2], (200, "second build, out of tree: GET /out-of-tree/a\n"))

        # systemctl reload: the unit's ExecReload, as the unit's user, with
        # this test's socket and token in place of the unit's.
        reload_command = (self.unit_value("replugd.service", "ExecReload")
                          .replace("unix:/run/replug/replugd.sock", server.address)
                          .replace("/etc/replug/admin.token", token_file))
        reloaded = run(["setpriv", "--reuid=replug", "--regid=replug", "--init-groups", "--",
                        *shlex.split(reload_command)])
        self.assertEqual(reloaded.returncode, 0, reloaded.stdout + reloaded.stderr)
        harness.wait_for(lambda: "reload route=/greeting module=greeting 1 -> 1 generation=2" in server.log(),
                         what="the reload by ExecReload")
        self.assertEqual(server.stop(), 0)

    def unit_value(self, unit, key):
        with open(os.path.join(UNIT_DIR, unit)) as f:
            values = re.findall(rf"^{key}=(.*)$", f.read(), re.M)
        self.assertEqual(len(values), 1, f"{unit}: {key}")
        return values[0]


if __name__ == "__main__":
    unittest.main()

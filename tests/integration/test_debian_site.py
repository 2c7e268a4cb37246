"""nginx/replug.conf on a stock Debian nginx: the package's own nginx.conf and
its `default` site (enabled, `listen 80 default_server`, `server_name _`),
copied from /etc/nginx into a temp prefix with only ports and file paths
changed, and the shipped site installed next to it with the README's own
commands. `nginx -t` must be clean (a site that loses to the default one
gets `conflicting server name "_" on 0.0.0.0:80, ignored` and every request
answered by the default site's 404) and /hello must reach replugd."""

import hashlib
import http.client
import os
import re
import shutil
import subprocess
import unittest

import harness
from harness import EXAMPLE_MODULES, NGINX, SOURCE_ROOT

ETC = "/etc/nginx"
# The files that make the stock site layout, as nginx-common ships them.
STOCK = ["nginx.conf", "sites-available/default"]
README = os.path.join(SOURCE_ROOT, "README.md")


def shipped_conffiles():
    """{path: md5} of the conffiles dpkg installed for nginx-common."""
    text = subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}\n", "nginx-common"], capture_output=True,
                          text=True, check=True).stdout
    return {fields[0]: fields[1] for fields in (line.split() for line in text.splitlines()) if len(fields) >= 2}


def readme_install_commands():
    """The README's install commands for the nginx site, one per line."""
    with open(README) as f:
        readme = f.read()
    block = re.search(r"(?s)\n```sh\n(sudo cp nginx/replug\.conf /etc/nginx/sites-available/replug\n.*?)```\n",
                      readme)
    assert block, "README.md has no block installing nginx/replug.conf into /etc/nginx/sites-available"
    return block.group(1).splitlines()


def get(port, host, path, address="127.0.0.1"):
    connection = http.client.HTTPConnection(address, port, timeout=15)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


class DebianDefaultSite(harness.TestCase):
    def stock_layout(self, port):
        """/etc/nginx as the package ships it, in a temp prefix: returns its nginx.conf."""
        conffiles = shipped_conffiles()
        for name in STOCK:
            path = os.path.join(ETC, name)
            with open(path, "rb") as f:
                digest = hashlib.md5(f.read()).hexdigest()
            self.assertEqual(digest, conffiles.get(path), f"{path} is not as nginx-common ships it")
        etc = os.path.join(self.dir, "etc-nginx")
        shutil.copytree(ETC, etc, symlinks=True)
        # Only what the package enables: its default site (the postinst's link).
        shutil.rmtree(os.path.join(etc, "sites-enabled"))
        os.makedirs(os.path.join(etc, "sites-enabled"))
        os.symlink(os.path.join(etc, "sites-available", "default"), os.path.join(etc, "sites-enabled", "default"))
        logs = os.path.join(self.dir, "nginx-logs")
        os.makedirs(logs)
        replacements = {
            "nginx.conf": [("pid /run/nginx.pid;", f"pid {self.dir}/nginx.pid;"), ("/var/log/nginx/", logs + "/"),
                           ("/etc/nginx/", etc + "/")],
            "sites-available/default": [("listen 80 default_server;", f"listen {port} default_server;"),
                                        ("listen [::]:80 default_server;", f"listen [::]:{port} default_server;")],
        }
        for name, pairs in replacements.items():
            path = os.path.join(etc, name)
            with open(path) as f:
                text = f.read()
            for old, new in pairs:
                self.assertIn(old, text, f"{name} changed: update this test")
                text = text.replace(old, new)
            with open(path, "w") as f:
                f.write(text)
        return etc

    def test_the_shipped_site_works_beside_debians_default_site(self):
        port = harness.free_port()
        etc = self.stock_layout(port)
        # The README's commands, run as they are written, on the temp prefix.
        commands = readme_install_commands()
        self.assertEqual(commands[-1], "sudo nginx -t && sudo systemctl reload nginx")
        for command in commands[:-1]:
            self.assertTrue(command.startswith("sudo "), command)
            subprocess.run(command.removeprefix("sudo ").replace(ETC + "/", etc + "/"), shell=True, cwd=SOURCE_ROOT,
                           check=True)
        server = self.replugd(["--module-path", EXAMPLE_MODULES, "--route", "/hello=hello",
                               "--listen-group", "www-data"])
        site = os.path.join(etc, "sites-available", "replug")
        with open(site) as f:
            text = f.read()
        for old, new in [("listen 80;", f"listen {port};"), ("listen [::]:80;", f"listen [::]:{port};"),
                         ("unix:/run/replug/replugd.sock", server.address)]:
            self.assertIn(old, text)
            text = text.replace(old, new)
        with open(site, "w") as f:
            f.write(text)
        self.assertTrue(os.path.islink(os.path.join(etc, "sites-enabled", "replug")))

        conf = os.path.join(etc, "nginx.conf")
        check = subprocess.run([NGINX, "-t", "-c", conf], capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertNotIn("conflicting server name", check.stderr)
        self.assertNotIn("[warn]", check.stderr)
        self.assertNotIn("[emerg]", check.stderr)

        nginx = harness.Process([NGINX, "-c", conf, "-g", "daemon off;"], os.path.join(self.dir, "nginx.log"))
        self._processes.append(nginx)
        harness.wait_for(lambda: not nginx.running() or harness.http_listening(port), what="nginx to listen")
        self.assertTrue(nginx.running(), nginx.log())

        # The names the site claims reach replugd, over IPv4 and IPv6 (curl
        # tries localhost's ::1 first, where the default site listens too).
        for host, address in [("localhost", "127.0.0.1"), ("localhost", "::1"), (f"127.0.0.1:{port}", "127.0.0.1")]:
            self.assertEqual(get(port, host, "/hello", address), (200, "Hello from replug: GET /hello\n"),
                             (host, address))
        # Every other name is still the default site's: it is there, and served.
        status, body = get(port, "www.example.net", "/hello")
        self.assertEqual(status, 404)
        self.assertIn("<center>nginx/", body)  # the default site: nginx, not replugd, answered
        with open(os.path.join(self.dir, "nginx-logs", "error.log")) as f:
            self.assertNotIn("conflicting server name", f.read())


if __name__ == "__main__":
    unittest.main()

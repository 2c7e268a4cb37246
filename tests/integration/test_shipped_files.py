"""The shipped config file (packaging/replugd.conf) works as it is and
documents every option with its default; the man page replugd(8) has every
option and renders cleanly; the README's Deploying section shows the very
files the other tests run."""

import os
import re
import subprocess
import unittest

import harness
from harness import EXAMPLE_MODULES, REPLUGD, SOURCE_ROOT

CONF = os.path.join(SOURCE_ROOT, "packaging", "replugd.conf")
MAN_PAGE = os.path.join(SOURCE_ROOT, "packaging", "man", "replugd.8")
README = os.path.join(SOURCE_ROOT, "README.md")
# Command-line actions, not settings: not for a config file.
ACTIONS = {"config", "check", "version", "help"}


def read(path):
    with open(path) as f:
        return f.read()


def help_options():
    """[(name, default or None)] as `replugd --help` lists them."""
    text = subprocess.run([REPLUGD, "--help"], capture_output=True, text=True, check=True).stdout
    options = []
    for line in text.splitlines():
        found = re.match(r"  --([a-z-]+)(?: [^ ]+)?(?: \(=([^)]*)\))?", line)
        if found:
            options.append((found.group(1), found.group(2)))
    assert len(options) > 10, text
    return options


def check(*args):
    return subprocess.run([REPLUGD, "--check", *args], capture_output=True, text=True)


class ConfigFile(harness.TestCase):
    def test_check_prints_the_route_table_it_gives(self):
        # The module path from the command line (it wins), the route from the file.
        result = check("--config", CONF, "--module-path", EXAMPLE_MODULES)
        self.assertEqual((result.returncode, result.stdout),
                         (0, f"ok route=/hello module=hello file={EXAMPLE_MODULES}/hello.so version=1\n"
                             "1 route(s) load\n"), result.stderr)

    def test_the_command_line_replaces_every_line_of_a_key(self):
        result = check("--config", CONF, "--module-path", EXAMPLE_MODULES, "--route", "/p=pluggable",
                       "--route", "/api/*=hello")
        self.assertEqual((result.returncode, result.stdout),
                         (0, f"ok route=/p module=pluggable file={EXAMPLE_MODULES}/pluggable.so version=1\n"
                             f"ok route=/api/* module=hello file={EXAMPLE_MODULES}/hello.so version=1\n"
                             "2 route(s) load\n"), result.stderr)

    def test_as_shipped_it_looks_in_the_documented_directories(self):
        result = check("--config", CONF, "--module-path", self.modules)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"module 'hello' not found; looked in: {self.modules}/hello.so, {self.modules}/hello/index.so",
                      result.stderr)
        text = read(CONF)
        self.assertIn("\nmodule-path = /srv/replug\nmodule-path = /usr/lib/replug/modules\n", text.replace(
            "\n# The modules shipped with the package (the hello example):\n", "\n"))

    def test_every_option_is_documented_with_its_default(self):
        text = read(CONF)
        for name, default in help_options():
            if name in ACTIONS:
                continue
            self.assertRegex(text, rf"(?m)^# ([a-z-]+, )*{name}(, [a-z-]+)*: ", f"no comment explains {name}")
            self.assertRegex(text, rf"(?m)^#?{name} = ", f"no line for {name}")
            if default is not None:
                self.assertIn(f"\n#{name} = {default}\n", text, f"{name}: its default {default} is not shown")

    def test_every_documented_value_is_valid(self):
        # Uncomment every "#key = value" line: still a config replugd takes.
        text = re.sub(r"(?m)^#([a-z-]+ = )", r"\1", read(CONF))
        every = os.path.join(self.dir, "every.conf")
        with open(every, "w") as f:
            f.write(text)
        result = check("--config", every, "--module-path", EXAMPLE_MODULES, "--route", "/hello=hello")
        self.assertEqual((result.returncode, result.stdout),
                         (0, f"ok route=/hello module=hello file={EXAMPLE_MODULES}/hello.so version=1\n"
                             "1 route(s) load\n"), result.stderr)


class ManPage(unittest.TestCase):
    def test_every_option_has_an_entry(self):
        text = read(MAN_PAGE)
        for name, _ in help_options():
            roff = re.escape("\\-\\-" + name.replace("-", "\\-"))
            self.assertRegex(text, rf"(?m)^\.TP\n\.BI? {roff}(\s|$)", f"replugd(8) has no entry for --{name}")

    def test_renders_without_warnings(self):
        result = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", MAN_PAGE], capture_output=True, text=True,
                                env=dict(os.environ, LC_ALL="C.UTF-8"))
        self.assertEqual((result.returncode, result.stderr), (0, ""))


class Readme(unittest.TestCase):
    def test_deploying_shows_the_shipped_files(self):
        readme = read(README)
        deploying = readme[readme.index("\n## Deploying\n"):]
        for path, language in [("nginx/lighttpd-replug.conf", "lighttpd"), ("nginx/apache-replug.conf", "apache"),
                               ("packaging/systemd/replugd.socket", "ini"),
                               ("packaging/systemd/replugd.service", "ini")]:
            self.assertIn(f"```{language}\n{read(os.path.join(SOURCE_ROOT, path))}```", deploying, path)
        active = "".join(line for line in read(CONF).splitlines(True) if line.strip() and not line.startswith("#"))
        self.assertIn(f"```ini\n{active}```", deploying)
        # The scale-out upstream: the shipped one, its server line made two,
        # as test_scale_out runs it.
        upstream = re.search(r"(?s)upstream replug \{.*?\n\}\n", read(os.path.join(SOURCE_ROOT, "nginx",
                                                                                     "replug.conf"))).group(0)
        two = upstream.replace("    server unix:/run/replug/replugd.sock;\n",
                               "    server unix:/run/replug/a.sock;\n    server unix:/run/replug/b.sock;\n")
        self.assertNotEqual(two, upstream)
        self.assertIn(f"```nginx\n{two}```", deploying)


if __name__ == "__main__":
    unittest.main()

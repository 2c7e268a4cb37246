"""Dev mode (--dev DIR): a source in DIR is served at /NAME through the real
nginx; a save compiles it and the next request runs it; a compile error is
a 500 with the compiler's errors until the next good save; new files add
routes; NAME.flags reaches the compiler; bad options and a missing compiler
are one-line errors. The save -> new response times are printed (they are
not asserted: the machine is shared)."""

import os
import re
import signal
import subprocess
import time
import unittest

import fcgi_client
import harness
from harness import HTTP

# A compile of a small module takes seconds on a loaded machine.
COMPILE = 120.0

HELLO = """#include <replug/module.hpp>

static void serve(replug::request& req, replug::response& res) {
    res.header("Content-Type", "text/plain");
    res << "%s at " << req.path() << "\\n";
}
REPLUG_HANDLER(serve)
REPLUG_VERSION("%s")
"""


def source(text, version="1"):
    return HELLO % (text, version)


def write(path, text):
    """An editor that writes the file in place (truncate, write, close)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def write_by_rename(path, text):
    """An editor that saves atomically: a temp file renamed over the source."""
    temporary = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(temporary, "w") as f:
        f.write(text)
    os.rename(temporary, path)


class Dev(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.src = os.path.join(self.dir, "src")
        os.makedirs(self.src)
        os.chmod(self.src, 0o755)

    def start(self, extra=(), env=None, front=True, dev_site=False):
        """replugd --dev behind nginx: the demo's site (nginx/replug.conf) on a
        unix socket, or DEV_SITE: nginx/replug-dev.conf on loopback TCP, as
        the README runs it."""
        if dev_site:
            address = f"127.0.0.1:{harness.free_port()}"
            self.server = self.replugd(["--dev", self.src, "--listen", address, *extra], address=address, env=env,
                                       start_timeout=COMPILE)
            self.front = self.nginx(address, site=os.path.join(harness.SOURCE_ROOT, "nginx", "replug-dev.conf"),
                                    replace_upstream="127.0.0.1:8000", replace_listen="listen 127.0.0.1:8080;")
        else:
            self.server = self.replugd(["--dev", self.src, "--listen-group", "www-data", *extra], env=env,
                                       start_timeout=COMPILE)
            if front:
                self.front = self.nginx(self.server.address)
        if front or dev_site:
            self.http = HTTP(self.front.port)
            self.addCleanup(self.http.close)

    def get(self, path):
        """(status, body, content type) through nginx."""
        self.http.connection.request("GET", path)
        response = self.http.connection.getresponse()
        return response.status, response.read().decode(), response.getheader("Content-Type")

    def wait_body(self, path, expected, status=200):
        return harness.wait_for(lambda: (lambda r: r if r[0] == status and expected in r[1] else None)(
            self.get(path)), timeout=COMPILE, what=f"{status} {expected!r} at {path}")

    def compiled_ms(self, name, nth):
        """The compile time replugd logged for NAME's NTH compile (1-based)."""
        times = re.findall(rf"dev: compiled {name} in (\d+)ms", self.server.log())
        return int(times[nth - 1])

    def timed_save(self, path, text, url, expected, status=200):
        """Saves TEXT and polls every 10 ms until URL answers EXPECTED: the ms it took."""
        write(path, text)
        saved = time.monotonic()
        deadline = saved + COMPILE
        while time.monotonic() < deadline:
            got = self.get(url)
            if got[0] == status and expected in got[1]:
                return (time.monotonic() - saved) * 1000, got
            time.sleep(0.01)  # polling interval of the measurement
        self.fail(f"no {status} {expected!r} at {url} within {COMPILE}s")

    def test_edit_break_and_fix_through_nginx(self):
        hello = os.path.join(self.src, "hello.cpp")
        write(hello, source("Hello 1"))
        self.start(dev_site=True)
        self.assertEqual(self.get("/hello")[:2], (200, "Hello 1 at /hello\n"))
        self.assertEqual(self.get("/hello/a/b")[:2], (200, "Hello 1 at /hello/a/b\n"))  # /hello/* too
        self.assertEqual(self.get("/other")[0], 404)

        took, _ = self.timed_save(hello, source("Hello 2", "2"), "/hello", "Hello 2")
        compile_ms = self.compiled_ms("hello", 2)
        print(f"\ndev: save -> new response {took:.0f} ms = compile {compile_ms} ms + {took - compile_ms:.0f} ms")

        broken = source("Hello 3", "3").replace('res << "Hello 3', 'res << undeclared << "Hello 3')
        line = broken.splitlines().index(next(l for l in broken.splitlines() if "undeclared" in l)) + 1
        took, (status, body, content_type) = self.timed_save(hello, broken, "/hello", "does not compile", 500)
        print(f"dev: save with an error -> the error page {took:.0f} ms")
        self.assertEqual(content_type, "text/html; charset=utf-8")
        self.assertIn(f"hello.cpp:{line}:", body)
        self.assertRegex(body, "(&#39;|\u2018)undeclared(&#39;|\u2019) was not declared")  # quotes by locale
        self.assertNotIn("<script", body)
        self.assertIn("dev: hello does not compile; /hello answers 500 with the errors:", self.server.log())
        self.assertIn(f"hello.cpp:{line}:", self.server.log())
        self.assertEqual(self.get("/hello/deeper")[0], 500)

        took, _ = self.timed_save(hello, source("Hello 4", "4"), "/hello", "Hello 4")
        print(f"dev: the fix -> new response {took:.0f} ms = compile {self.compiled_ms('hello', 3)} ms + "
              f"{took - self.compiled_ms('hello', 3):.0f} ms")
        self.assertIn("reload route=/hello/* module=hello", self.server.log())

    def test_a_route_whose_first_compile_fails_answers_the_errors(self):
        write(os.path.join(self.src, "broken.cpp"), "#include <replug/module.hpp>\nthis is not C++\n")
        self.start()
        status, body, _ = self.get("/broken")
        self.assertEqual(status, 500)
        self.assertIn("broken.cpp:2:", body)
        write_by_rename(os.path.join(self.src, "broken.cpp"), source("Mended"))
        self.wait_body("/broken", "Mended at /broken")

    def test_new_files_add_routes_and_removed_ones_lose_them(self):
        write(os.path.join(self.src, "hello.cpp"), source("Hello"))
        self.start()
        self.assertEqual(self.get("/added")[0], 404)
        write_by_rename(os.path.join(self.src, "added.cpp"), source("Added"))
        self.wait_body("/added", "Added at /added")
        self.assertIn("dev: new module added compiled in", self.server.log())
        # A module made of a directory of sources, with a header beside them.
        write(os.path.join(self.src, "blog", "text.hpp"), 'inline const char* text() { return "Blog 1"; }\n')
        write(os.path.join(self.src, "blog", "main.cpp"),
              '#include <replug/module.hpp>\n#include "text.hpp"\n'
              'static void serve(replug::request&, replug::response& res) { res << text(); }\n'
              'REPLUG_HANDLER(serve)\n')
        self.wait_body("/blog", "Blog 1")
        write(os.path.join(self.src, "blog", "text.hpp"), 'inline const char* text() { return "Blog 2"; }\n')
        self.wait_body("/blog", "Blog 2")
        os.unlink(os.path.join(self.src, "added.cpp"))
        harness.wait_for(lambda: self.get("/added")[0] == 404, timeout=COMPILE, what="/added to go")
        self.assertIn("dev: added has no sources any more; removing route /added/*", self.server.log())
        self.assertEqual(self.get("/hello")[:2], (200, "Hello at /hello\n"))

    def test_sighup_and_reload_keep_the_dev_routes(self):
        write(os.path.join(self.src, "hello.cpp"), source("Hello"))
        self.start()
        self.server.send(signal.SIGHUP)
        harness.wait_for(lambda: self.server.log().count("reload route=/hello/*") >= 1, what="the SIGHUP reload")
        self.assertNotIn("refused", self.server.log())
        self.assertEqual(self.get("/hello")[:2], (200, "Hello at /hello\n"))
        status, body = self.http.admin("POST", "reload")
        self.assertEqual(status, 200, body)
        self.assertIn('"/hello/*"', body)
        self.assertEqual(self.get("/hello")[:2], (200, "Hello at /hello\n"))

    def test_the_flags_file_reaches_the_compiler(self):
        text = HELLO.replace('res << "%s at "', 'res << GREETING << " at "') % "1"
        write(os.path.join(self.src, "greet.cpp"), text)
        write(os.path.join(self.src, "greet.flags"), '# a define with a space in it\n-DGREETING=\'"from flags"\'\n')
        self.start()
        self.assertEqual(self.get("/greet")[:2], (200, "from flags at /greet\n"))
        write(os.path.join(self.src, "greet.flags"), "-DGREETING='\"changed flags\"'\n")
        self.wait_body("/greet", "changed flags at /greet")  # a flags file change rebuilds
        write(os.path.join(self.src, "greet.flags"), "-lno_such_library_here\n")
        status, body, _ = self.wait_body("/greet", "no_such_library_here", 500)
        self.assertIn("-lno_such_library_here -o ", body)  # libraries after the sources

    def test_a_burst_of_saves_compiles_the_last_one_never_two_at_once(self):
        hello = os.path.join(self.src, "hello.cpp")
        write(hello, source("Hello 0"))
        self.start()
        self.assertEqual(self.get("/hello")[0], 200)
        # The usual ways editors save, in a burst: in place, sed -i (a temp
        # file renamed over), vim's default (the original renamed to a backup,
        # a new file written).
        write(hello, source("Hello 1"))
        subprocess.run(["sed", "-i", "s/Hello 1/Hello 2/", hello], check=True)
        os.rename(hello, hello + "~")
        write(hello, source("Hello 3"))
        harness.wait_for(lambda: self.server.log().count("dev: compiling hello") >= 1, timeout=COMPILE,
                         what="the compile to start")
        write(hello, source("Hello 4"))  # during that compile, or just after it
        self.wait_body("/hello", "Hello 4")
        # The first compile may have read Hello 4 already; the one more after it then serves the same.
        harness.wait_for(lambda: self.server.log().count("dev: compiling hello") ==
                         self.server.log().count("dev: compiled hello") - 1, timeout=COMPILE, what="compiles to end")
        log = self.server.log()
        events = re.findall(r"dev: (compiling|compiled) hello", log)
        # One compile at a time, each ended before the next began (how many the burst took depends
        # on how the writes fall against the quiet period).
        self.assertEqual(events, ["compiled"] + ["compiling", "compiled"] * (len(events) // 2), log)

    def test_a_crashing_experiment_costs_a_worker_not_the_server(self):
        crash = os.path.join(self.src, "crash.cpp")
        write(crash, HELLO.replace('res << "%s at "', 'res << *static_cast<volatile int*>(nullptr) << "%s at "')
              % ("Crash", "1"))
        write(os.path.join(self.src, "hello.cpp"), source("Hello"))
        self.start()
        self.assertEqual(self.get("/crash")[0], 500)
        self.assertEqual(self.get("/hello")[:2], (200, "Hello at /hello\n"))
        write(crash, source("Mended"))
        self.wait_body("/crash", "Mended at /crash")  # no automatic rollback in dev mode, no 503

    def test_it_listens_on_loopback_unless_told(self):
        write(os.path.join(self.src, "hello.cpp"), source("Hello"))
        if harness.can_connect("127.0.0.1:8000"):
            self.skipTest("127.0.0.1:8000 is taken on this machine")
        server = self.replugd(["--dev", self.src], address="inherited", start_timeout=COMPILE)
        self.assertIn("serving on 127.0.0.1:8000 ", server.log())
        self.assertEqual(fcgi_client.request("127.0.0.1:8000", "/hello").text, "Hello at /hello\n")
        server.stop()
        port = harness.free_port()
        anywhere = self.replugd(["--dev", self.src, "--listen", f"0.0.0.0:{port}"], start_timeout=COMPILE)
        self.assertIn(f"dev: --listen 0.0.0.0:{port} is not a loopback address", anywhere.log())

    def test_bad_options_are_one_line_errors(self):
        missing = os.path.join(self.dir, "missing")
        a_file = os.path.join(self.dir, "file.cpp")
        write(a_file, "")
        for args, expected in [(["--dev", missing], f"replugd: --dev {missing}: no such directory\n"),
                               (["--dev", a_file], f"replugd: --dev {a_file}: not a directory\n"),
                               (["--dev", ""], "replugd: --dev: empty directory\n")]:
            result = subprocess.run([harness.REPLUGD, *args, "--listen", "127.0.0.1:0"], capture_output=True,
                                    text=True, timeout=30)
            self.assertEqual((result.returncode, result.stderr), (2, expected), args)

    def test_a_missing_compiler_is_named(self):
        write(os.path.join(self.src, "hello.cpp"), source("Hello"))
        env = dict(os.environ, CXX="/nonexistent/g++")
        env.pop("LD_LIBRARY_PATH", None)
        result = subprocess.run([harness.REPLUGD, "--dev", self.src, "--listen", "127.0.0.1:0"], capture_output=True,
                                text=True, env=env, timeout=30)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(result.stderr, "replugd: --dev: the compiler CXX=/nonexistent/g++ cannot be run: "
                                        "No such file or directory\n")
        env["CXX"] = "no-such-compiler++"
        result = subprocess.run([harness.REPLUGD, "--dev", self.src, "--listen", "127.0.0.1:0"], capture_output=True,
                                text=True, env=env, timeout=30)
        self.assertEqual((result.returncode, result.stderr),
                         (2, "replugd: --dev: the compiler CXX=no-such-compiler++ is not in PATH; "
                             "set CXX to an installed compiler\n"))


if __name__ == "__main__":
    unittest.main()

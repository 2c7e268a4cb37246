"""The SDK's second table end to end, with the real replugd (worker processes
and one process) and the real nginx and curl: res.cookie (and a refused value:
500, the reason logged, nothing sent), res.redirect, req.setting with
--route-setting (and SIGHUP changing it), req.log's tagged lines, and the ABI
check: an ABI 1 module and a libc++ module are refused with their reasons.
And the example guestbook through nginx with curl -d, -F, -b and -c."""
import os
import re
import signal
import subprocess
import unittest

from harness import TestCase, example_module, test_module, wait_for, REPLUGD, TEST_MODULES


def curl(*args):
    result = subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True, timeout=30)
    if result.returncode != 0:
        raise AssertionError(f"curl {args} failed: {result.stderr.decode()}")
    return result.stdout.decode("utf-8", "replace")


def head_and_body(text):
    head, _, body = text.partition("\r\n\r\n")
    return head.split("\r\n"), body


class SdkTest(TestCase):
    def start(self, *extra, workers="2"):
        self.module(test_module("sdk"), "sdk")
        args = ["--workers", workers, "--module-path", self.modules, "--route", "/cookie=sdk:cookie",
                "--route", "/redirect=sdk:redirect", "--route", "/logs=sdk:logs", "--route", "/setting=sdk:setting",
                "--listen-group", "www-data", *extra]
        self.server = self.replugd(args)
        self.web = self.nginx(self.server.address)
        self.url = f"http://127.0.0.1:{self.web.port}"
        return self.server

    def test_cookies_go_out_as_set_cookie_headers(self):
        self.start()
        lines, body = head_and_body(curl("-i", self.url + "/cookie?value=abc123"))
        self.assertIn("HTTP/1.1 200 OK", lines[0])
        cookies = [line for line in lines if line.lower().startswith("set-cookie:")]
        self.assertEqual(cookies, ["Set-Cookie: session=abc123; Max-Age=60; Path=/; HttpOnly; SameSite=Strict",
                                   "Set-Cookie: plain=1"])
        self.assertEqual(body, "cookie set\n")
        jar = os.path.join(self.dir, "jar")
        curl("-c", jar, self.url + "/cookie?value=xyz")
        with open(jar) as f:
            self.assertRegex(f.read(), r"#HttpOnly_127\.0\.0\.1\tFALSE\t/\tFALSE\t\d+\tsession\txyz")

    def test_a_refused_cookie_is_a_500_with_the_reason_logged_and_nothing_sent(self):
        self.start()
        lines, body = head_and_body(curl("-i", self.url + "/cookie?value=abc&raw=1"))
        self.assertIn("500", lines[0])
        self.assertFalse([line for line in lines if line.lower().startswith("set-cookie")], lines)
        self.assertEqual(body, "Internal Server Error\n")
        wait_for(lambda: "handler threw" in self.server.log(), what="the refusal in the log")
        self.assertRegex(self.server.log(), r"error handler threw route=/cookie module=sdk version=sdk-1 .*"
                                            r"what=\"res.cookie\(\\\"session\\\"\): the value has a byte a cookie "
                                            r"cannot carry")

    def test_redirect_sets_status_and_location(self):
        self.start()
        lines, body = head_and_body(curl("-i", self.url + "/redirect?to=/elsewhere"))
        self.assertIn("302 Found", lines[0])
        self.assertIn("Location: /elsewhere", lines)
        lines, _ = head_and_body(curl("-i", self.url + "/redirect?to=/moved&code=301"))
        self.assertIn("301 Moved Permanently", lines[0])
        self.assertIn("Location: /moved", lines)
        lines, _ = head_and_body(curl("-i", self.url + "/redirect?to=/x&code=200"))
        self.assertIn("500", lines[0])  # not a 3xx: refused
        self.assertNotIn("Location: /x", lines)
        self.assertIn("redirect: status must be 3xx", self.server.log())

    def check_settings_and_sighup(self, workers):
        config = os.path.join(self.dir, "replugd.conf")
        with open(config, "w") as f:
            f.write("route-setting = /setting:greeting=Hello, world = 1\nroute-setting = /setting:db=host=a:5432\n")
        self.start("--config", config, workers=workers)
        self.assertEqual(curl(self.url + "/setting?greeting&db&absent"),
                         "greeting=Hello, world = 1\ndb=host=a:5432\nabsent=\n")
        with open(config, "w") as f:
            f.write("route-setting = /setting:greeting=Bonjour\n")
        self.server.send(signal.SIGHUP)
        wait_for(lambda: curl(self.url + "/setting?greeting&db") == "greeting=Bonjour\ndb=\n",
                 what="the new settings after SIGHUP")
        # Every request after that sees the new table (all workers).
        for _ in range(20):
            self.assertEqual(curl(self.url + "/setting?greeting"), "greeting=Bonjour\n")

    def test_settings_and_sighup_with_worker_processes(self):
        self.check_settings_and_sighup("2")

    def test_settings_and_sighup_in_one_process(self):
        self.check_settings_and_sighup("0")

    def test_a_bad_route_setting_is_one_line_and_exit_2(self):
        for args, reason in [
                (["--route", "/a=sdk:setting", "--route-setting", "/b:k=v"],
                 "--route-setting: bad route setting '/b:k=v': no route /b (set it with --route)"),
                (["--route", "/a=sdk:setting", "--route-setting", "/a:=v"], "the key is empty")]:
            result = subprocess.run([REPLUGD, "--module-path", self.modules, *args], capture_output=True, text=True,
                                    timeout=30)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertEqual(result.stderr.count("\n"), 1, result.stderr)
            self.assertIn(reason, result.stderr)

    def test_a_bad_route_setting_on_sighup_keeps_the_old_ones(self):
        config = os.path.join(self.dir, "replugd.conf")
        with open(config, "w") as f:
            f.write("route-setting = /setting:greeting=Hi\n")
        self.start("--config", config)
        with open(config, "w") as f:
            f.write("route-setting = /nowhere:greeting=Bye\n")
        self.server.send(signal.SIGHUP)
        wait_for(lambda: "no route /nowhere" in self.server.log(), what="the refusal in the log")
        self.assertEqual(curl(self.url + "/setting?greeting"), "greeting=Hi\n")

    def test_req_log_lines_are_tagged_escaped_and_leveled(self):
        self.start("--log-level", "info")
        curl(self.url + "/logs?text=hello%20there")
        curl(self.url + "/logs?text=forged%0a2026-01-01T00:00:00.000Z%20error%20fake%22&level=warn")
        curl(self.url + "/logs?text=quiet&level=debug")
        curl(self.url + "/logs?text=loud&level=error")
        wait_for(lambda: 'text="loud"' in self.server.log(), what="the last line")
        log = self.server.log()
        self.assertRegex(log, r'\binfo module log route=/logs module=sdk version=sdk-1 generation=1 '
                              r'text="hello there"\n')
        self.assertIn(r'warn module log route=/logs module=sdk version=sdk-1 generation=1 '
                      r'text="forged\x0a2026-01-01T00:00:00.000Z error fake\""', log)
        self.assertNotIn("\nerror fake", log)
        self.assertNotIn('text="quiet"', log)  # debug, under --log-level info
        self.assertRegex(log, r'\berror module log route=/logs .*text="loud"')


class AbiTest(TestCase):
    def check(self, *extra_args):
        return subprocess.run([REPLUGD, "--check", "--module-path", self.modules, *extra_args], capture_output=True,
                              text=True, timeout=60)

    def test_a_module_built_against_abi_1_is_refused_with_how_to_rebuild(self):
        self.module(test_module("abi1_hello"), "old")
        result = self.check("--route", "/old=old")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("built against replug ABI 1 (no module descriptor), this server speaks ABI 2; rebuild it "
                      "against this server's SDK (<replug/module.hpp>; the source needs no change)", result.stderr)
        # The same source built against this SDK serves.
        self.module(example_module("hello"), "hello")
        self.assertEqual(self.check("--route", "/hello=hello").returncode, 0)

    @unittest.skipUnless(os.path.exists(os.path.join(TEST_MODULES, "libcxx_hello.so")),
                         "no clang++ with libc++ here (packaging/install-deps test installs them)")
    def test_a_module_built_with_libcxx_is_refused_naming_the_library(self):
        self.module(test_module("libcxx_hello"), "cxx")
        result = self.check("--route", "/cxx=cxx")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertRegex(result.stderr, r"built with libc\+\+ \d+, this server with libstdc\+\+: their "
                                        r"std::string_view differ, and the module would misread every string; "
                                        r"rebuild it with libstdc\+\+ \(g\+\+, or clang\+\+ without -stdlib=libc\+\+\)")

    def test_version_prints_the_abi(self):
        result = subprocess.run([REPLUGD, "--version"], capture_output=True, text=True, timeout=30)
        self.assertRegex(result.stdout, r"\(module ABI 2, libstdc\+\+\)")


class GuestbookTest(TestCase):
    def test_sign_with_a_form_a_cookie_and_an_image_through_nginx(self):
        self.module(example_module("guestbook"), "guestbook")
        data = os.path.join(self.dir, "book")
        os.makedirs(data)
        server = self.replugd(["--module-path", self.modules, "--route", "/guestbook/*=guestbook",
                               "--route-setting", f"/guestbook/*:data_dir={data}",
                               "--route-setting", "/guestbook/*:title=Our <guests>", "--listen-group", "www-data"])
        web = self.nginx(server.address)
        url = f"http://127.0.0.1:{web.port}/guestbook/"
        jar = os.path.join(self.dir, "jar")

        page = curl(url)
        self.assertIn("<h1>Our &lt;guests&gt;</h1>", page)  # the title setting, escaped
        self.assertNotIn("Welcome back", page)

        # A urlencoded POST: 303 back to the page, and the name in a cookie.
        lines, _ = head_and_body(curl("-i", "-c", jar, "-d", "name=Ann Lee", "--data-urlencode", "message=Hi <there> & bye", url))
        self.assertIn("303 See Other", lines[0])
        self.assertIn("Location: /guestbook/", lines)
        self.assertIn("Set-Cookie: guestbook_name=Ann%20Lee; Max-Age=2592000; Path=/guestbook/; HttpOnly; "
                      "SameSite=Lax", lines)
        page = curl("-b", jar, url)
        self.assertIn("<p>Welcome back, Ann Lee.</p>", page)
        self.assertIn("<li><b>Ann Lee</b>: Hi &lt;there&gt; &amp; bye</li>", page)

        # A multipart POST with an image; -L follows the 303 with a GET.
        image = os.path.join(self.dir, "dot.png")
        png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                            "0000000d4944415478da6364f8cf00000302010050a4d2a70000000049454e44ae426082")
        with open(image, "wb") as f:
            f.write(png)
        page = curl("-L", "-b", jar, "-c", jar, "-F", "name=Bo", "-F", "message=with a picture",
                    "-F", f"image=@{image};type=image/png", url)
        self.assertIn("<p>Welcome back, Bo.</p>", page)
        found = re.search(r'<li><b>Bo</b>: with a picture<br><img src="image/([^"]+)"', page)
        self.assertIsNotNone(found, page)
        picture = subprocess.run(["curl", "-sS", "-D", "-", "-o", os.path.join(self.dir, "got.png"),
                                  url + "image/" + found.group(1)], capture_output=True, text=True, timeout=30)
        self.assertIn("Content-Type: image/png", picture.stdout)
        with open(os.path.join(self.dir, "got.png"), "rb") as f:
            self.assertEqual(f.read(), png)
        # Newest first.
        self.assertLess(page.index("<b>Bo</b>"), page.index("<b>Ann Lee</b>"))

        # Not an image: a 400 from the module's bad_request; an empty form: 422.
        text = os.path.join(self.dir, "note.txt")
        with open(text, "w") as f:
            f.write("plain")
        lines, _ = head_and_body(curl("-i", "-F", "name=C", "-F", "message=m", "-F", f"image=@{text};type=text/plain",
                                      url))
        self.assertIn("400", lines[0])
        lines, _ = head_and_body(curl("-i", "-d", "name=", url))
        self.assertIn("422", lines[0])
        self.assertIn("module log route=/guestbook/* module=guestbook version=1 generation=1 "
                      'text="signed by Ann Lee"', server.log())


if __name__ == "__main__":
    unittest.main()

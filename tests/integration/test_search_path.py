"""Module resolution at every reload: DIR/NAME.so, then DIR/NAME/index.so, for
each --module-path in order; a module that appears earlier wins next time."""

import os
import shutil
import unittest

import harness
from harness import example_module, test_module


class SearchPath(harness.TestCase):
    def test_a_module_appearing_earlier_in_the_path_wins_at_the_next_reload(self):
        first, second = os.path.join(self.dir, "first"), os.path.join(self.dir, "second")
        os.makedirs(first)
        self.module(example_module("pluggable"), "pluggable", directory=second)
        server = self.replugd(["--module-path", first, "--module-path", second, "--route", "/p=pluggable"])
        self.assertEqual(server.request("/p").text, "First version of code")

        # NAME/index.so in the first directory beats NAME.so in the second.
        harness.install(test_module("pluggable_v2"), os.path.join(first, "pluggable", "index.so"))
        self.assertEqual(server.request("/p").text, "First version of code")  # not before a reload
        answer = self.json_of(server.admin("POST", "reload", query="route=/p"))
        self.assertEqual(answer["file"], os.path.join(first, "pluggable", "index.so"))
        self.assertEqual(server.request("/p").text, "Second version of code")

        # NAME.so beats NAME/index.so in the same directory.
        self.module(test_module("pluggable_v3"), "pluggable", directory=first)
        self.json_of(server.admin("POST", "reload", query="route=/p"))
        self.assertEqual(server.request("/p").text, "Third version of code")

        # Gone from the first directory: back to the second one's file.
        os.unlink(os.path.join(first, "pluggable.so"))
        shutil.rmtree(os.path.join(first, "pluggable"))
        answer = self.json_of(server.admin("POST", "reload", query="route=/p"))
        self.assertEqual(answer["file"], os.path.join(second, "pluggable.so"))
        self.assertEqual(server.request("/p").text, "First version of code")

    def test_nested_module_names(self):
        harness.install(example_module("hello"), os.path.join(self.modules, "site", "api", "index.so"))
        server = self.replugd(["--module-path", self.modules, "--route", "/api/*=site/api"])
        self.assertEqual(server.request("/api/x").text, "Hello from replug: GET /api/x\n")

    def test_module_gone_at_reload_keeps_the_old_version(self):
        self.module(example_module("pluggable"), "pluggable")
        server = self.replugd(["--module-path", self.modules, "--route", "/p=pluggable"])
        os.unlink(os.path.join(self.modules, "pluggable.so"))
        answer = server.admin("POST", "reload", query="route=/p")
        self.assertEqual(answer.status, 422)
        self.assertIn("module 'pluggable' not found; looked in: " + os.path.join(self.modules, "pluggable.so"),
                      self.json_of(answer)["error"])
        self.assertEqual(server.request("/p").text, "First version of code")
        status = self.json_of(server.admin("GET", "status"))
        self.assertIn("not found", status["routes"][0]["last_error"]["reason"])


if __name__ == "__main__":
    unittest.main()

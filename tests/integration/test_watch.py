"""Watch mode: edit, rebuild, and the next request runs the new code, with
no admin call; a broken build leaves the last good version serving."""

import os
import re
import shutil
import subprocess
import time
import unittest

import harness
from harness import HTTP, example_module, test_module

BUILD_ROOT = os.environ.get("REPLUG_BUILD_ROOT", "")
SOURCE = os.path.join(harness.SOURCE_ROOT, "modules", "pluggable", "pluggable.cpp")


def build_module(source_text, output, workdir):
    """What a module author runs: g++ with the SDK's pkg-config flags."""
    source = os.path.join(workdir, "edited.cpp")
    with open(source, "w") as f:
        f.write(source_text)
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(BUILD_ROOT, "packaging", "pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "replug"], env=env, capture_output=True, text=True,
                           check=True).stdout.split()
    subprocess.run(["g++", "-std=c++20", "-O1", "-shared", *flags, source, "-o", output], check=True)


class Watch(harness.TestCase):
    def start(self, *module_paths):
        self.server = self.replugd([*sum((["--module-path", p] for p in module_paths or [self.modules]), []),
                                    "--route", "/p=pluggable", "--watch", "--listen-group", "www-data"])
        self.front = self.nginx(self.server.address)
        self.http = HTTP(self.front.port)
        self.addCleanup(self.http.close)

    def body(self):
        return self.http.get("/p")[1]

    def test_rebuild_in_place_and_the_next_request_runs_it(self):
        self.module(example_module("pluggable"), "pluggable")
        self.start()
        self.assertEqual(self.body(), "First version of code")
        with open(SOURCE) as f:
            text = f.read()
        edited = text.replace("First version", "Edited version").replace('REPLUG_VERSION("1")', 'REPLUG_VERSION("e")')
        self.assertNotEqual(edited, text)
        # The linker writes the module file in place, in the watched directory.
        build_module(edited, os.path.join(self.modules, "pluggable.so"), self.dir)
        written = time.monotonic()
        harness.wait_for(lambda: self.body() == "Edited version of code", what="the rebuilt module")
        print(f"\nwatch: finished write -> new response in {(time.monotonic() - written) * 1000:.0f} ms")
        self.assertIn("watch: " + os.path.join(self.modules, "pluggable.so") + " changed; reloading route=/p",
                      self.server.log())

    def test_a_broken_build_leaves_the_last_good_version(self):
        self.module(example_module("pluggable"), "pluggable")
        self.start()
        with open(os.path.join(self.modules, "pluggable.so"), "wb") as f:
            f.write(b"\x7fELF half a module")
        harness.wait_for(lambda: "reload route=/p refused" in self.server.log(), what="the refusal")
        self.assertEqual(self.body(), "First version of code")
        self.module(test_module("pluggable_v2"), "pluggable")  # the next good build
        harness.wait_for(lambda: self.body() == "Second version of code", what="the fixed module")

    def test_a_slow_writer_triggers_one_reload_of_the_finished_file(self):
        self.module(example_module("pluggable"), "pluggable")
        self.start()
        with open(test_module("pluggable_v2"), "rb") as f:
            data = f.read()
        with open(os.path.join(self.modules, "pluggable.so"), "r+b") as f:
            f.truncate(0)
            for start in range(0, len(data), len(data) // 3 + 1):
                f.write(data[start:start + len(data) // 3 + 1])
                f.flush()
                # The stimulus: a writer slower than the quiet period (50 ms), not a wait; its three
                # writes well inside the 2 s after which a write still going on is taken as abandoned.
                time.sleep(0.1)
        harness.wait_for(lambda: self.body() == "Second version of code", what="the finished module")
        log = self.server.log()
        self.assertEqual(log.count("reloading route=/p"), 1, log)
        self.assertNotIn("refused", log)

    def test_a_module_appearing_earlier_in_the_path_takes_over(self):
        first, second = os.path.join(self.dir, "first"), os.path.join(self.dir, "second")
        os.makedirs(first)
        self.module(example_module("pluggable"), "pluggable", directory=second)
        self.start(first, second)
        self.assertEqual(self.body(), "First version of code")
        # A whole directory moved in: first/pluggable/index.so.
        staging = os.path.join(self.dir, "staging")
        os.makedirs(staging)
        shutil.copyfile(test_module("pluggable_v3"), os.path.join(staging, "index.so"))
        os.rename(staging, os.path.join(first, "pluggable"))
        harness.wait_for(lambda: self.body() == "Third version of code", what="first/pluggable/index.so")
        self.module(test_module("pluggable_v2"), "pluggable", directory=first)
        harness.wait_for(lambda: self.body() == "Second version of code", what="first/pluggable.so")

    def test_a_release_symlink_repointed_reloads(self):
        # Capistrano's layout: module path app/current -> releases/N, and a
        # deploy repoints the symlink atomically.
        app = os.path.join(self.dir, "app")
        for release, module in (("1", example_module("pluggable")), ("2", test_module("pluggable_v2")),
                                ("3", test_module("pluggable_v3"))):
            self.module(module, "pluggable", directory=os.path.join(app, "releases", release))
        os.symlink("releases/1", os.path.join(app, "current"))
        self.start(os.path.join(app, "current"))
        self.assertEqual(self.body(), "First version of code")
        for release, version in (("2", "Second"), ("3", "Third")):  # the second proves the new link is followed
            subprocess.run(f"ln -sfn releases/{release} current.tmp && mv -T current.tmp current", shell=True,
                           cwd=app, check=True)
            harness.wait_for(lambda: self.body() == f"{version} version of code", what=f"release {release}")
        self.assertIn("watch: " + os.path.join(app, "current") + " changed; reloading route=/p", self.server.log())
        self.assertNotIn("refused", self.server.log())

    def test_a_module_file_that_is_a_symlink_reloads_when_its_target_is_rebuilt(self):
        # modules/pluggable.so -> ../builds/pluggable.so: the build writes
        # the target in place, in a directory nobody named on the command line.
        builds = os.path.join(self.dir, "builds")
        self.module(example_module("pluggable"), "pluggable", directory=builds)
        os.symlink("../builds/pluggable.so", os.path.join(self.modules, "pluggable.so"))
        self.start()
        self.assertEqual(self.body(), "First version of code")
        harness.overwrite_in_place(test_module("pluggable_v2"), os.path.join(builds, "pluggable.so"))
        harness.wait_for(lambda: self.body() == "Second version of code", what="the rebuilt target")
        self.assertIn("watch: " + os.path.join(builds, "pluggable.so") + " changed; reloading route=/p",
                      self.server.log())

    def test_a_configmap_volume_swapped_reloads(self):
        # What the kubelet does to a ConfigMap (or Secret) volume: the files are
        # symlinks NAME -> ..data/NAME, and an update writes a new timestamped
        # directory, points a new ..data_tmp at it, renames it over ..data
        # and removes the old directory.
        volume = os.path.join(self.dir, "volume")
        os.makedirs(volume)

        def publish(stamp, module):
            data = os.path.join(volume, "..2026_11_30_13_00_0" + stamp + ".000000001")
            self.module(module, "pluggable", directory=data)
            current = os.path.join(volume, "..data")
            old = os.path.realpath(current) if os.path.lexists(current) else None
            os.symlink(os.path.basename(data), os.path.join(volume, "..data_tmp"))
            os.rename(os.path.join(volume, "..data_tmp"), os.path.join(volume, "..data"))
            if old:
                shutil.rmtree(old)

        publish("1", example_module("pluggable"))
        os.symlink("..data/pluggable.so", os.path.join(volume, "pluggable.so"))
        self.start(volume)
        self.assertEqual(self.body(), "First version of code")
        publish("2", test_module("pluggable_v2"))
        harness.wait_for(lambda: self.body() == "Second version of code", what="the second ConfigMap version")
        publish("3", test_module("pluggable_v3"))
        harness.wait_for(lambda: self.body() == "Third version of code", what="the third ConfigMap version")
        # Each update is seen through the links: the ..data swap, or the removal of the old
        # directory the links led to, whichever event the watcher reads first.
        seen = re.findall(r"watch: (\S+) changed; reloading route=/p", self.server.log())
        self.assertGreaterEqual(len(seen), 2, self.server.log())
        self.assertTrue(all(path.startswith(volume + os.sep + "..") for path in seen), seen)
        self.assertNotIn("refused", self.server.log())


if __name__ == "__main__":
    unittest.main()

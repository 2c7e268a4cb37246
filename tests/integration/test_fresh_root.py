"""The README's first command on a fresh Debian 12 machine: a minimal root
made by mmdebstrap, this source tree copied in, `nginx/demo --once` run in
a chroot as root. The demo installs what it needs (packaging/install-deps
demo), builds, and must tell its whole story; a missing package or a build
step that fails stops it with its own error. Also checks that every package
of the README's second command (`packaging/install-deps test`) exists in
that root (apt-get --simulate). Needs root and Debian's archive; every
mount and process lives in namespaces of its own (fresh_root.sh)."""

import ctypes
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from harness import SOURCE_ROOT, free_port

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fresh_root.sh")
# Downloads, an unpacked system and a full build; the meson timeout is above this.
TIMEOUT = 1500
PR_SET_PDEATHSIG = 1


def die_with_parent():
    """In the child, before exec: SIGKILL when this process dies (a meson
    timeout kills it), which ends the namespaces and all in them."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def mounts_under(path):
    """Mount points at or below PATH, as this process sees them."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == path or point.startswith(path + "/"):
                found.append(point)
    return found


@unittest.skipUnless(os.geteuid() == 0, "needs root: mmdebstrap, mounts and chroot")
class FreshRoot(unittest.TestCase):
    def test_the_demo_runs_on_a_fresh_debian_12(self):
        work = tempfile.mkdtemp(prefix="replug-fresh-root-")
        root = os.path.join(work, "root")
        try:
            started = time.monotonic()
            # nice: the rest of the suite runs beside this, and its timing matters more.
            result = subprocess.run(
                ["nice", "-n", "10", "unshare", "--mount", "--pid", "--fork", "--kill-child", "--",
                 "bash", SCRIPT, root, os.path.abspath(SOURCE_ROOT), str(free_port())],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT,
                preexec_fn=die_with_parent)
            output = result.stdout.decode("utf-8", "replace")
            print(f"\nfresh root: {time.monotonic() - started:.0f} s in all")
            print("\n".join(line for line in output.splitlines() if line.startswith("fresh-root: ")))
            self.assertEqual(result.returncode, 0, output[-20000:])
            # The demo's story, in order: three versions, no restart.
            story = [line for line in output.splitlines() if re.fullmatch(r"\w+ version of code", line)]
            self.assertEqual(story, ["First version of code", "Second version of code", "Third version of code"],
                             output[-20000:])
            # And the guestbook: a form posted, a cookie set, the book read back with it.
            self.assertIn("<li><b>Demo</b>: Hello &amp; welcome</li>", output)
            # It did start from nothing: install-deps installed the demo tier.
            self.assertIn("install-deps: installing g++ meson", output)
            self.assertRegex(output, r"fresh-root: packages the test tier would install: [1-9]")
        finally:
            # The namespace took its mounts along; check before deleting
            # anything, and never cross into another file system.
            left = mounts_under(os.path.realpath(work))
            if not left:
                subprocess.run(["rm", "-rf", "--one-file-system", work], check=False)
            self.assertEqual(left, [], f"mounts left behind under {work}; not deleted")


if __name__ == "__main__":
    unittest.main()

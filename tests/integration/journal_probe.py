"""Run by test_production under `unshare -m` (a private mount namespace, so
that nothing of the machine's /run changes): starts a real systemd-journald
on fresh tmpfs mounts of /run/systemd and /run/log, runs replugd with its
stderr connected to the journal the way systemd connects a service's (a
stream socket, and JOURNAL_STREAM naming it), makes it log an error, and
prints what journalctl stored as JSON: every entry, and the entries
`journalctl -p err` shows."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import fcgi_client

IDENTIFIER = "replugd-journal-test"


def wait_for(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.05)  # polling interval


def main():
    replugd, workdir, modules = sys.argv[1:4]
    for where in ("/run/systemd", "/run/log"):
        os.makedirs(where, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", where], check=True)
    journald = subprocess.Popen(["/lib/systemd/systemd-journald"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.exists("/run/systemd/journal/stdout"))
        # As systemd connects a service's stderr: the stream protocol's header
        # (identifier, unit, priority, level prefix on, no forwarding), then lines.
        stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stream.connect("/run/systemd/journal/stdout")
        stream.sendall(f"{IDENTIFIER}\n\n6\n1\n0\n0\n0\n".encode())
        info = os.fstat(stream.fileno())
        env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
        env["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"
        address = "unix:" + os.path.join(workdir, "journal.sock")
        server = subprocess.Popen([replugd, "--listen", address, "--module-path", modules, "--route",
                                   "/t/*=throws"], stdout=stream.fileno(), stderr=stream.fileno(), env=env)

        def answers():
            try:
                return fcgi_client.request(address, "/t/std").status == 500
            except OSError:
                return False
        wait_for(answers)
        server.send_signal(signal.SIGTERM)
        code = server.wait(30)
        stream.close()

        def entries(*extra):
            out = subprocess.run(["journalctl", "--no-pager", "-o", "json", "-t", IDENTIFIER, *extra],
                                 capture_output=True, text=True, check=True).stdout
            return [{"priority": int(e["PRIORITY"]), "message": e["MESSAGE"]}
                    for e in map(json.loads, out.splitlines())]
        wait_for(lambda: any("stopped" in e["message"] for e in entries()))
        print(json.dumps({"exit": code, "all": entries(), "errors": entries("-p", "err")}))
    finally:
        journald.terminate()
        journald.wait(10)


if __name__ == "__main__":
    main()

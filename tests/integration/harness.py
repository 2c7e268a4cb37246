"""The one fixture helper for integration tests: starts the real replugd,
nginx and friends as child processes in a temp dir, on free ports or unix
sockets, waits on conditions (never fixed sleeps), and stops them by PID."""

import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import traceback
import unittest

import fcgi_client

REPLUGD = os.environ.get("REPLUGD", "replugd")
SOURCE_ROOT = os.environ.get("REPLUG_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
TEST_MODULES = os.environ.get("REPLUG_TEST_MODULES", "")
EXAMPLE_MODULES = os.environ.get("REPLUG_EXAMPLE_MODULES", "")
NGINX = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
LIGHTTPD = shutil.which("lighttpd", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
APACHE = shutil.which("apache2", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
APACHE_MODULES = "/usr/lib/apache2/modules"
TOKEN = "test-token-0123456789abcdef"
# The build's b_sanitize ("none", "address,undefined", ...): RSS means little under ASan.
SANITIZED = os.environ.get("REPLUG_SANITIZE", "none") != "none"


def wait_for(condition, timeout=10.0, what="condition"):
    """Polls CONDITION until it returns something truthy; fails after TIMEOUT."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(delay)  # polling interval, not a stand-in for a condition
        delay = min(delay * 2, 0.1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_connect(address):
    try:
        fcgi_client.connect(address, timeout=1).close()
        return True
    except OSError:
        return False


def http_listening(port):
    """Whether a front server accepts connections on loopback PORT."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_module(name):
    return os.path.join(TEST_MODULES, name + ".so")


def example_module(name):
    return os.path.join(EXAMPLE_MODULES, name + ".so")


def install(source, target):
    """Puts SOURCE at TARGET the way a deploy does: write beside it, rename over."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temporary = target + ".tmp"
    shutil.copyfile(source, temporary)
    os.rename(temporary, target)


def overwrite_in_place(source, target):
    """`cp source target` over an existing file: same inode, new bytes."""
    with open(source, "rb") as new, open(target, "r+b") as old:
        data = new.read()
        old.seek(0)
        old.write(data)
        old.truncate(len(data))


class ClientThreads:
    """Starts one thread per callable in TARGETS and keeps whatever each
    raises: join() waits for all of them, then fails with every exception
    and its traceback. A client that dies mid-test is a failure, not one
    fewer client."""

    def __init__(self, targets):
        self._lock = threading.Lock()
        self._errors = []
        self._threads = [threading.Thread(target=self._run, args=(target,)) for target in targets]
        for thread in self._threads:
            thread.start()

    def _run(self, target):
        try:
            target()
        except BaseException:
            with self._lock:
                self._errors.append(traceback.format_exc())

    def join(self):
        for thread in self._threads:
            thread.join()
        if self._errors:
            raise AssertionError(f"{len(self._errors)} of {len(self._threads)} client thread(s) raised:\n"
                                 + "\n".join(self._errors))


class Process:
    """A child process with its output in a log file; stopped by PID."""

    def __init__(self, argv, log_path, env=None, **popen):
        self.argv = argv
        self.log_path = log_path
        self.log_file = open(log_path, "wb")
        self.process = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT,
                                        stdin=popen.pop("stdin", subprocess.DEVNULL), env=env, **popen)
        self.pid = self.process.pid

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def running(self):
        return self.process.poll() is None

    def send(self, number):
        os.kill(self.pid, number)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stops the process and returns its exit status."""
        if self.running():
            self.send(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"{self.argv[0]} did not stop within {timeout}s after signal {sig}")
        finally:
            self.log_file.close()


def write_token_file(path):
    """PATH holding TOKEN, readable by its owner only, as replugd requires; returns PATH."""
    with open(path, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(path, 0o600)
    return path


class Replugd(Process):
    """replugd in WORKDIR. PROGRAM replaces the built binary (an installed one);
    LAUNCHER is a command that starts it and owns the socket at ADDRESS
    (spawn-fcgi, systemd-socket-activate): replugd then gets no --listen."""

    def __init__(self, workdir, args, address=None, token=True, wait=True, env=None, program=None, launcher=(),
                 start_timeout=10.0, **popen):
        self.workdir = workdir
        self.address = address or "unix:" + os.path.join(workdir, "replugd.sock")
        argv = [*launcher, program or REPLUGD] + args
        if "--listen" not in args and address != "inherited" and not launcher:
            argv += ["--listen", self.address]
        if token and not any(a.startswith("--admin-token-file") for a in args):
            argv += ["--admin-token-file", write_token_file(os.path.join(workdir, "admin.token"))]
        if env is None:
            # As in production: no LD_LIBRARY_PATH (meson test points it at
            # the build tree, where a module's missing library would be found).
            env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
        super().__init__(argv, os.path.join(workdir, "replugd.log"), env=env, **popen)
        if wait:
            wait_for(lambda: not self.running() or "serving on" in self.log(), timeout=start_timeout,
                     what="replugd to start")
            if not self.running():
                raise AssertionError("replugd exited at start:\n" + self.log())

    def request(self, path, **kwargs):
        return fcgi_client.request(self.address, path, **kwargs)

    def admin(self, method, endpoint, token=TOKEN, **kwargs):
        headers = {"Authorization": "Bearer " + token} if token else {}
        query = kwargs.pop("query", "")
        return self.request("/-/" + endpoint, method=method, query=query, headers=headers, **kwargs)


class Nginx(Process):
    """A real nginx running the shipped site config (nginx/replug.conf), with
    only its two addresses replaced: the listen port and the upstream. A list
    of upstreams replaces the upstream's one server line with one line each."""

    def __init__(self, workdir, upstream, site=os.path.join(SOURCE_ROOT, "nginx", "replug.conf"),
                 replace_upstream="unix:/run/replug/replugd.sock", replace_listen="listen 80;"):
        self.port = free_port()
        prefix = os.path.join(workdir, "nginx")
        os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
        os.chmod(workdir, 0o755)
        shutil.copy("/etc/nginx/fastcgi_params", os.path.join(prefix, "fastcgi_params"))
        with open(site) as f:
            text = f.read()
        assert replace_listen in text and replace_upstream in text
        # The shipped site also listens on [::]:80; a test's nginx listens on loopback only.
        text = text.replace(replace_listen, f"listen 127.0.0.1:{self.port};").replace("    listen [::]:80;\n", "")
        if isinstance(upstream, str):
            text = text.replace(replace_upstream, upstream)
        else:
            server_line = f"server {replace_upstream};"
            assert text.count(server_line) == 1
            text = text.replace(server_line, "\n    ".join(f"server {address};" for address in upstream))
        with open(os.path.join(prefix, "site.conf"), "w") as f:
            f.write(text)
        with open(os.path.join(prefix, "nginx.conf"), "w") as f:
            f.write(f"""
user www-data;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    fastcgi_temp_path {prefix}/fastcgi;
    proxy_temp_path {prefix}/proxy;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include site.conf;
}}
""")
        super().__init__([NGINX, "-p", prefix, "-c", os.path.join(prefix, "nginx.conf"), "-g", "daemon off;"],
                         os.path.join(workdir, "nginx.log"))
        self.prefix = prefix
        wait_for(lambda: not self.running() or self._listening(), what="nginx to listen")
        if not self.running():
            raise AssertionError("nginx exited at start:\n" + self.log())

    def _listening(self):
        return http_listening(self.port)

    def error_log(self):
        with open(os.path.join(self.prefix, "logs", "error.log")) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        return super().stop(sig, timeout)


class Lighttpd(Process):
    """A real lighttpd (-D: in the foreground) running the shipped config
    (nginx/lighttpd-replug.conf) included from a main config like Debian's,
    with only the socket path replaced."""

    def __init__(self, workdir, upstream, site=os.path.join(SOURCE_ROOT, "nginx", "lighttpd-replug.conf"),
                 replace_upstream="/run/replug/replugd.sock"):
        assert upstream.startswith("unix:"), "the shipped lighttpd config talks to a unix socket"
        self.port = free_port()
        prefix = os.path.join(workdir, "lighttpd")
        os.makedirs(os.path.join(prefix, "htdocs"), exist_ok=True)
        os.makedirs(os.path.join(prefix, "uploads"), exist_ok=True)
        os.chown(os.path.join(prefix, "uploads"), pwd.getpwnam("www-data").pw_uid, -1)
        os.chmod(workdir, 0o755)
        with open(site) as f:
            text = f.read()
        assert text.count(f'"{replace_upstream}"') == 1
        text = text.replace(f'"{replace_upstream}"', f'"{upstream[len("unix:"):]}"')
        with open(os.path.join(prefix, "replug.conf"), "w") as f:
            f.write(text)
        config = os.path.join(prefix, "lighttpd.conf")
        with open(config, "w") as f:
            f.write(f"""
server.modules = ( "mod_indexfile", "mod_access", "mod_alias", "mod_redirect" )
server.document-root = "{prefix}/htdocs"
server.upload-dirs = ( "{prefix}/uploads" )
server.username = "www-data"
server.groupname = "www-data"
server.bind = "127.0.0.1"
server.port = {self.port}
include "{prefix}/replug.conf"
""")
        super().__init__([LIGHTTPD, "-D", "-f", config], os.path.join(workdir, "lighttpd.log"))
        # It listens before it handles signals; "server started" comes after both.
        wait_for(lambda: not self.running() or ("server started" in self.log() and http_listening(self.port)),
                 what="lighttpd to start")
        if not self.running():
            raise AssertionError("lighttpd exited at start:\n" + self.log())

    def stop(self, sig=signal.SIGINT, timeout=15):
        """SIGINT is lighttpd's graceful stop (SIGTERM: immediate, exit status 1)."""
        return super().stop(sig, timeout)


class Apache(Process):
    """The real Apache httpd (Debian's apache2, -DFOREGROUND) running the
    shipped site (nginx/apache-replug.conf) from a self-contained main config
    in WORKDIR, with only the site's port and socket path replaced. What
    Debian's apache2.conf and a2enmod would add comes from LoadModule lines."""

    def __init__(self, workdir, upstream, site=os.path.join(SOURCE_ROOT, "nginx", "apache-replug.conf"),
                 replace_upstream="unix:/run/replug/replugd.sock|"):
        assert upstream.startswith("unix:"), "the shipped Apache site talks to a unix socket"
        self.port = free_port()
        prefix = os.path.join(workdir, "apache")
        os.makedirs(os.path.join(prefix, "run"), exist_ok=True)
        os.chmod(workdir, 0o755)
        with open(site) as f:
            text = f.read()
        assert text.count(replace_upstream) == 1 and text.count("<VirtualHost *:80>") == 1
        text = text.replace(replace_upstream, upstream + "|").replace("<VirtualHost *:80>",
                                                                      f"<VirtualHost *:{self.port}>")
        with open(os.path.join(prefix, "replug.conf"), "w") as f:
            f.write(text)
        self.config = os.path.join(prefix, "apache2.conf")
        modules = "".join(f"LoadModule {name}_module {APACHE_MODULES}/mod_{name}.so\n"
                          for name in ("mpm_event", "authz_core", "authz_host", "proxy", "proxy_fcgi"))
        with open(self.config, "w") as f:
            f.write(f"""{modules}
ServerRoot "{prefix}"
ServerName localhost
DefaultRuntimeDir "{prefix}/run"
PidFile "{prefix}/run/apache2.pid"
Mutex file:{prefix}/run default
User www-data
Group www-data
Listen 127.0.0.1:{self.port}
ErrorLog "{prefix}/error.log"
LogLevel warn
Include "{prefix}/replug.conf"
""")
        super().__init__([APACHE, "-d", prefix, "-f", self.config, "-DFOREGROUND"],
                         os.path.join(workdir, "apache.log"))
        self.prefix = prefix
        wait_for(lambda: not self.running() or http_listening(self.port), what="apache2 to listen")
        if not self.running():
            raise AssertionError("apache2 exited at start:\n" + self.log())

    def error_log(self):
        with open(os.path.join(self.prefix, "error.log")) as f:
            return f.read()


class HTTP:
    """A keep-alive HTTP client to a front server on loopback, from
    SOURCE_ADDRESS when given (any 127.x.y.z is local, yet not 127.0.0.1)."""

    def __init__(self, port, timeout=15, source_address=None):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                                     source_address=(source_address, 0) if source_address else None)

    def request(self, method, path, body=None, headers=None):
        self.connection.request(method, path, body=body, headers=headers or {})
        response = self.connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), dict(response.getheaders())

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def admin(self, method, endpoint, token=TOKEN):
        headers = {"Authorization": "Bearer " + token} if token else {}
        if method == "POST":
            headers["Content-Length"] = "0"  # lighttpd answers 411 to a POST without it
        status, body, _ = self.request(method, "/-/" + endpoint, headers=headers)
        return status, body

    def close(self):
        self.connection.close()


class TestCase(unittest.TestCase):
    """A test with its own temp dir; everything it starts is stopped after."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="replug-test-")
        os.chmod(self.dir, 0o755)
        self.modules = os.path.join(self.dir, "modules")
        os.makedirs(self.modules)
        self._processes = []

    def tearDown(self):
        for process in reversed(self._processes):
            if process.running():
                process.send(signal.SIGTERM)
                try:
                    process.process.wait(10)
                except subprocess.TimeoutExpired:
                    process.process.kill()
                    process.process.wait()
            process.log_file.close()
        if self._outcome_failed():
            for process in self._processes:
                print(f"\n--- log of {process.argv[0]} ---\n{process.log()}")
        shutil.rmtree(self.dir, ignore_errors=True)

    def _outcome_failed(self):
        # Python 3.11 reports a failure to the result at once and leaves
        # _outcome.success alone: look for this test among the result's.
        outcome = getattr(self, "_outcome", None)
        if not getattr(outcome, "success", True):
            return True
        result = getattr(outcome, "result", None)
        failed = getattr(result, "failures", []) + getattr(result, "errors", [])
        return any(test is self for test, _ in failed)

    def replugd(self, args, workdir=None, **kwargs):
        """A replugd with its socket, log and token in WORKDIR (default: the test's dir)."""
        process = Replugd(workdir or self.dir, args, **kwargs)
        self._processes.append(process)
        return process

    def replugd_instances(self, names, args, envs=None, directories=None):
        """Instances of replugd as several behind one front server are run: NAME
        each in a working directory of its own, with its socket NAME.sock there,
        all with one admin token file (self.token_file), serving the test's
        module directory (or DIRECTORIES' NAME's). ENVS: what each adds to the
        environment."""
        self.token_file = write_token_file(os.path.join(self.dir, "admin.token"))
        instances = []
        for i, name in enumerate(names):
            workdir = os.path.join(self.dir, name)
            os.makedirs(workdir, mode=0o755)
            env = None
            if envs and envs[i]:
                env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
                env.update(envs[i])
            directory = directories[i] if directories and directories[i] else self.modules
            instances.append(self.replugd(["--module-path", directory, "--admin-token-file", self.token_file, *args],
                                          workdir=workdir, address="unix:" + os.path.join(workdir, name + ".sock"),
                                          env=env))
        return instances

    def nginx(self, upstream, **kwargs):
        process = Nginx(self.dir, upstream, **kwargs)
        self._processes.append(process)
        return process

    def lighttpd(self, upstream, **kwargs):
        process = Lighttpd(self.dir, upstream, **kwargs)
        self._processes.append(process)
        return process

    def apache(self, upstream, **kwargs):
        process = Apache(self.dir, upstream, **kwargs)
        self._processes.append(process)
        return process

    def module(self, source, name, directory=None):
        install(source, os.path.join(directory or self.modules, name + ".so"))

    def json_of(self, response):
        self.assertEqual(response.headers.get("content-type"), "application/json", response.text)
        return json.loads(response.text)


class WorkersBehindNginx(TestCase):
    """A test of replugd with worker processes behind the shipped nginx site:
    start() runs both, status() reads the admin status through nginx."""

    def start(self, *routes, workers=2, threads=2, extra=(), env=None):
        """replugd with ROUTES, WORKERS worker processes of THREADS threads
        each and EXTRA arguments, behind nginx; self.http talks to nginx."""
        self.server = self.replugd(["--module-path", self.modules, "--listen-group", "www-data",
                                    "--workers", str(workers), "--threads", str(threads), *extra,
                                    *sum((["--route", r] for r in routes), [])], env=env)
        self.front = self.nginx(self.server.address)
        self.http = HTTP(self.front.port)
        self.addCleanup(self.http.close)

    def status(self):
        status, body = self.http.admin("GET", "status")
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def route(self, pattern):
        return next(r for r in self.status()["routes"] if r["route"] == pattern)

    def serving(self):
        """The serving workers, by slot."""
        return {w["slot"]: w for w in self.status()["workers"] if w["state"] == "serving"}

    def serving_pids(self):
        return sorted(w["pid"] for w in self.status()["workers"] if w["state"] == "serving")

    def wait_serving(self, workers=2):
        """Waits until WORKERS workers serve; returns them by slot."""
        return wait_for(lambda: len(self.serving()) == workers and self.serving(),
                        what=f"{workers} workers serving")

    def wait_all_serving(self, workers=2):
        """Waits until WORKERS workers serve; returns their pids, sorted."""
        return wait_for(lambda: len(self.serving_pids()) == workers and self.serving_pids(),
                        what=f"{workers} workers serving")

    def clients_asking(self, path, clients, stop, keep):
        """CLIENTS keep-alive clients through nginx asking for PATH until STOP
        is set; each answer goes to KEEP(status, body), one at a time.
        Returns the threads."""
        lock = threading.Lock()

        def client():
            http = HTTP(self.front.port)
            try:
                while not stop.is_set():
                    status, body, _ = http.get(path)
                    with lock:
                        keep(status, body)
            finally:
                http.close()

        return ClientThreads([client] * clients)

    def load_by_status(self, path, clients, stop):
        """clients_asking(); returns the threads and a dict of answers by status."""
        answers = {}

        def keep(status, body):
            answers.setdefault(status, []).append(body)

        return self.clients_asking(path, clients, stop, keep), answers

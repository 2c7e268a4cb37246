"""The container examples, as far as this machine can check them (no
container engine, no cluster): packaging/container/Dockerfile installs the
.deb that packaging/build-deb names, runs what the package installs, as the
uid the Deployment expects; packaging/container/kubernetes.yaml parses, its
replugd arguments are options `replugd --check` takes, its probes, socket
and shutdown timing fit together, and its nginx site is the shipped one
with only listen and server_name changed, valid under `nginx -t` and
letting the probes (and only them) through from an address that is not
loopback, as the kubelet's are."""

import fnmatch
import http.client
import json
import os
import re
import shlex
import subprocess
import unittest

import yaml

import harness
from harness import EXAMPLE_MODULES, NGINX, REPLUGD, SOURCE_ROOT

CONTAINER = os.path.join(SOURCE_ROOT, "packaging", "container")
DEBIAN = os.path.join(SOURCE_ROOT, "packaging", "debian")
SOCKET = "unix:/run/replug/replugd.sock"


def read(path):
    with open(path) as f:
        return f.read()


def dockerfile():
    """[(INSTRUCTION, arguments)] with continuation lines joined."""
    text = re.sub(r"\\\n", " ", read(os.path.join(CONTAINER, "Dockerfile")))
    return [tuple(line.split(None, 1)) for line in text.splitlines() if line.strip() and not line.startswith("#")]


def manifests():
    with open(os.path.join(CONTAINER, "kubernetes.yaml")) as f:
        return {document["kind"]: document for document in yaml.safe_load_all(f)}


def pod():
    return manifests()["Deployment"]["spec"]["template"]["spec"]


def container(name):
    return next(c for c in pod()["containers"] if c["name"] == name)


def option_value(args, name):
    return args[args.index(name) + 1]


def check_arguments(test, args):
    """`replugd --check` with ARGS, the shipped config file in place of the
    image's and the built example modules on the module path."""
    args = [os.path.join(SOURCE_ROOT, "packaging", "replugd.conf") if a == "/etc/replug/replugd.conf" else a
            for a in args]
    result = subprocess.run([REPLUGD, "--check", *args, "--module-path", EXAMPLE_MODULES],
                            capture_output=True, text=True)
    test.assertEqual(result.returncode, 0, f"{shlex.join(args)}\n{result.stderr}")
    test.assertIn("ok route=/hello module=hello", result.stdout)


class Dockerfile(unittest.TestCase):
    def test_it_installs_the_package_build_deb_makes(self):
        instructions = dockerfile()
        version = subprocess.run(["dpkg-parsechangelog", "-l", os.path.join(DEBIAN, "changelog"), "-S", "Version"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              check=True).stdout.strip()
        deb = f"replugd_{version}_{arch}.deb"
        copy = [args.split() for op, args in instructions if op == "COPY"]
        self.assertEqual(len(copy), 1)
        pattern = copy[0][0]
        self.assertTrue(fnmatch.fnmatch(deb, pattern), (deb, pattern))
        for other in (f"replug-dev_{version}_{arch}.deb", f"replugd-dbgsym_{version}_{arch}.ddeb"):
            self.assertFalse(fnmatch.fnmatch(other, pattern), other)
        run = " ".join(args for op, args in instructions if op == "RUN")
        self.assertIn(f"apt-get install -y --no-install-recommends {copy[0][1]}{pattern}", run)
        # What the entrypoint runs is what the package installs.
        installed = ["/" + line.strip() for line in read(os.path.join(DEBIAN, "replugd.install")).splitlines()]
        entrypoint = json.loads(dict(instructions)["ENTRYPOINT"])
        self.assertIn(entrypoint[0], installed)
        self.assertIn(entrypoint[entrypoint.index("--config") + 1], installed)

    def test_the_user_is_the_one_the_package_and_the_deployment_expect(self):
        instructions = dockerfile()
        run = " ".join(args for op, args in instructions if op == "RUN")
        gid = re.search(r"groupadd --system --gid (\d+) replug\b", run)
        uid = re.search(r"useradd --system --uid (\d+) --gid (\d+) .* replug\b", run)
        self.assertTrue(gid and uid, run)
        self.assertEqual(uid.group(2), gid.group(1))
        self.assertEqual(dict(instructions)["USER"], f"{uid.group(1)}:{gid.group(1)}")
        # The postinst leaves an existing user replug alone.
        self.assertIn("! getent passwd replug", read(os.path.join(DEBIAN, "replugd.postinst")))
        security = container("replugd")["securityContext"]
        self.assertEqual((security["runAsUser"], security["runAsGroup"]), (int(uid.group(1)), int(gid.group(1))))

    def test_its_command_is_one_replugd_takes(self):
        instructions = dict(dockerfile())
        argv = json.loads(instructions["ENTRYPOINT"]) + json.loads(instructions["CMD"])
        self.assertEqual(option_value(argv, "--listen"), SOCKET)
        check_arguments(self, argv[1:])


class Deployment(unittest.TestCase):
    def test_the_replugd_arguments_are_options_replugd_takes(self):
        args = container("replugd")["args"]
        self.assertTrue(all(isinstance(a, str) for a in args), args)
        entrypoint = json.loads(dict(dockerfile())["ENTRYPOINT"])
        check_arguments(self, entrypoint[1:] + args)

    def test_probes_socket_and_shutdown_fit_together(self):
        replugd, nginx = container("replugd"), container("nginx")
        port = nginx["ports"][0]["containerPort"]
        self.assertEqual(replugd["readinessProbe"]["httpGet"], {"path": "/-/ready", "port": port})
        self.assertEqual(replugd["livenessProbe"]["httpGet"], {"path": "/-/live", "port": port})
        # One emptyDir at the socket's directory in both containers.
        args = replugd["args"]
        socket_dir = os.path.dirname(option_value(args, "--listen").removeprefix("unix:"))
        volumes = {v["name"]: v for v in pod()["volumes"]}
        for each in (replugd, nginx):
            mount = next(m for m in each["volumeMounts"] if m["mountPath"] == socket_dir)
            self.assertEqual(volumes[mount["name"]].get("emptyDir"), {}, each["name"])
        self.assertIn(f"server {option_value(args, '--listen')};", manifests()["ConfigMap"]["data"]["replug.conf"])
        # Modules from a volume, below the module path.
        modules = next(m for m in replugd["volumeMounts"] if option_value(args, "--module-path").startswith(
            m["mountPath"] + "/"))
        self.assertIn("persistentVolumeClaim", volumes[modules["name"]])
        self.assertIn("--watch", args)
        # Kubernetes kills what still runs after the grace period: it must
        # cover the delay and the drain; nginx keeps accepting through the delay.
        delay, drain = float(option_value(args, "--shutdown-delay")), float(option_value(args, "--drain-timeout"))
        self.assertGreater(pod()["terminationGracePeriodSeconds"], delay + drain)
        self.assertEqual(nginx["lifecycle"]["preStop"]["exec"]["command"], ["sleep", f"{delay:g}"])


class NginxSite(harness.TestCase):
    def site(self):
        return manifests()["ConfigMap"]["data"]["replug.conf"]

    def test_it_is_the_shipped_site_with_listen_and_server_name_changed(self):
        shipped = read(os.path.join(SOURCE_ROOT, "nginx", "replug.conf"))
        shipped = shipped[shipped.index("upstream replug {"):]
        shipped = shipped.replace("    listen 80;\n    listen [::]:80;\n", "    listen 8080;\n")
        shipped = re.sub(r"(?s)    # A name-based site:.*?server_name localhost 127\.0\.0\.1;\n",
                         "    # The only site in its container: every name.\n    server_name _;\n", shipped)
        self.assertEqual(self.site(), shipped)

    def test_it_runs_and_lets_only_the_probes_through_from_outside(self):
        # The kubelet probes from the node, not from loopback: use this
        # machine's own non-loopback address as the client.
        outside = next((a for a in subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
                        if "." in a and not a.startswith("127.")), None)
        if outside is None:
            self.skipTest("no IPv4 address but loopback")
        server = self.replugd(["--module-path", EXAMPLE_MODULES, "--route", "/hello=hello",
                               "--listen-group", "www-data"])
        port = harness.free_port()
        prefix = os.path.join(self.dir, "nginx")
        os.makedirs(os.path.join(prefix, "conf.d"))
        os.makedirs(os.path.join(prefix, "logs"))
        site = self.site().replace("listen 8080;", f"listen {port};").replace(SOCKET, server.address)
        with open(os.path.join(prefix, "conf.d", "replug.conf"), "w") as f:
            f.write(site)
        # The shape of the nginx image's nginx.conf: sites in conf.d.
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""user www-data;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {prefix}/body;
    fastcgi_temp_path {prefix}/fastcgi;
    proxy_temp_path {prefix}/proxy;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/conf.d/*.conf;
}}
""")
        os.symlink("/etc/nginx/fastcgi_params", os.path.join(prefix, "fastcgi_params"))
        check = subprocess.run([NGINX, "-t", "-p", prefix, "-c", conf], capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertNotIn("[warn]", check.stderr)
        nginx = harness.Process([NGINX, "-p", prefix, "-c", conf, "-g", "daemon off;"],
                                os.path.join(self.dir, "nginx.log"))
        self._processes.append(nginx)
        harness.wait_for(lambda: not nginx.running() or harness.http_listening(port), what="nginx to listen")
        self.assertTrue(nginx.running(), nginx.log())

        def get(path):
            connection = http.client.HTTPConnection(outside, port, timeout=15, source_address=(outside, 0))
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                return response.status, response.read().decode("utf-8", "replace")
            finally:
                connection.close()

        # The probes reach replugd (whatever it answers, nginx did not refuse
        # them); the rest of the admin prefix is nginx's 403 from there.
        for probe in ("/-/ready", "/-/live"):
            status, body = get(probe)
            self.assertNotEqual(status, 403, (probe, body))
            self.assertNotIn("<center>nginx</center>", body, probe)
        self.assertEqual(get("/-/status")[0], 403)
        self.assertEqual(get("/hello"), (200, "Hello from replug: GET /hello\n"))
        self.assertIn("serving on", server.log())


if __name__ == "__main__":
    unittest.main()

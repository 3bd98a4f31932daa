"""Real overlay-node processes for tests/node and the soak benchmark, in a private network
namespace whose loopback carries documentation addresses (198.51.100.x): nodes only help
with dial-back for public addresses, and distinct IPs are distinct probers, so the node
under test becomes a verified-reachable introducer within seconds, as on a public host.
The namespace (unshare --net) vanishes with the process; the host network is untouched."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

SKIP = 77
# Nodes and the test client live in NET; load generators send from many CLIENT_NET
# addresses, since a node limits the datagrams it takes from one IP.
NET = "198.51.100."
CLIENT_IP = NET + "1"
CLIENT_NET = "203.0.113."


def client_ips(n):
    return [f"{CLIENT_NET}{i}" for i in range(1, n + 1)]


def enter_private_network(hosts=32, clients=250):
    """Re-runs this script in a new network namespace (root and unshare needed, else the
    test is skipped), then brings up its loopback with NET.1 .. NET.hosts and
    CLIENT_NET.1 .. CLIENT_NET.clients."""
    if os.environ.get("OVERLAY_NODE_TEST_NETNS") != "1":
        if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
            print("SKIP: needs root, unshare and ip to run nodes in a private network namespace")
            sys.exit(SKIP)
        os.environ["OVERLAY_NODE_TEST_NETNS"] = "1"
        os.execvp("unshare", ["unshare", "--net", "--", sys.executable, *sys.argv])
    commands = ["link set lo up"]
    commands += [f"addr add {NET}{i}/32 dev lo" for i in range(1, hosts + 1)]
    commands += [f"addr add {ip}/32 dev lo" for ip in client_ips(clients)]
    subprocess.run(["ip", "-batch", "-"], input="\n".join(commands) + "\n", text=True, check=True)


def wait_until(condition, timeout, what):
    """Polls `condition` until it returns something truthy; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Node:
    def __init__(self, binary, workdir, name, config_text, args=()):
        self.name = name
        self.config = os.path.join(workdir, name + ".toml")
        self.log_path = os.path.join(workdir, name + ".log")
        self.write_config(config_text)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary, "--config", self.config, *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        m = wait_until(lambda: self.find(r"listening on udp and tcp ([0-9.]+:[0-9]+)"), 10,
                       f"{name} to start")
        self.endpoint = m.group(1)

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def find(self, pattern):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_text()}")
        return re.search(pattern, self.log_text())

    def wait_log(self, pattern, timeout=30):
        return wait_until(lambda: self.find(pattern), timeout, f"'{pattern}' in {self.name}'s log")

    def metrics_url(self):
        m = self.wait_log(r"metrics at (http://[0-9.]+:[0-9]+/metrics)", 10)
        return m.group(1)

    def reload(self, config_text):
        """Rewrites the config, sends SIGHUP and waits for the node to say it reloaded."""
        before = self.log_text().count("SIGHUP:")
        self.write_config(config_text)
        self.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self.log_text().count("SIGHUP:") > before, 10, f"{self.name} to reload")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Cluster:
    """One node under test at NET.`base`, plus helpers that dial it back."""

    def __init__(self, node_bin, config_text, helpers=3, base=11, helper_config=""):
        self.workdir = tempfile.mkdtemp(prefix="overlay-node-test-")
        self.nodes = []
        try:
            self.node = Node(node_bin, self.workdir, "node", config_text)
            self.nodes.append(self.node)
            for i in range(helpers):
                ip = f"{NET}{base + 1 + i}"
                text = (f'[node]\nlisten = "{ip}:0"\nbootstrap = ["{self.node.endpoint}"]\n'
                        f'{helper_config}')
                self.nodes.append(Node(node_bin, self.workdir, f"helper{i + 1}", text))
        except BaseException:
            self.stop()
            raise

    def stop(self, remove=False):
        """Stops the nodes; `remove` deletes their configs and logs (kept when a test failed)."""
        for n in self.nodes:
            n.stop()
        if remove:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def dump_logs(self):
        for n in self.nodes:
            print(f"--- {n.name} ({n.log_path})")
            print("\n".join(n.log_text().splitlines()[-30:]))


def scrape(url):
    """The metrics as {'name{labels}': value} and the response's content type."""
    with urllib.request.urlopen(url, timeout=5) as r:
        body = r.read().decode()
        content_type = r.headers.get("Content-Type")
    samples = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples, content_type, body

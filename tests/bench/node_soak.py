#!/usr/bin/python3
"""Soak benchmark: one real overlay-node (introducer, verified reachable, default caps
except the per-requester and per-/24 ones, since the load comes from one /24) under a steady
open-loop mixed load from tests/node/node_load: 70% DHT queries (ping, find_node,
get_peers), 15% signed registrations, 15% introductions, spread over --sources client
addresses (the node answers at most 100 datagrams/s per IP). Prints throughput, latency
percentiles, the node's CPU use and its RSS over time, then a summary.

  node_soak.py --overlay-node PATH --node-load PATH [--seconds 600] [--rate 1000] [--sources 32]

Runs in a private network namespace (needs root; see tests/node/nodelab.py). With a short
--seconds it is the CI smoke run; it fails when the node answers under 95% of the queries."""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node"))
from nodelab import Cluster, client_ips, enter_private_network, scrape  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--overlay-node", required=True)
parser.add_argument("--node-load", required=True)
parser.add_argument("--seconds", type=float, default=600)
parser.add_argument("--rate", type=float, default=1000, help="queries per second, all kinds together")
parser.add_argument("--sources", type=int, default=32, choices=range(1, 251), metavar="1..250",
                    help="client addresses the load comes from")
parser.add_argument("--sample", type=float, default=None, help="seconds between CPU/RSS samples (default: seconds/20)")
args = parser.parse_args()
enter_private_network()
sample_every = args.sample or max(1.0, args.seconds / 20)

CONFIG = """[node]
listen = "198.51.100.11:0"
[introducer]
introductions_per_second = 100000
introductions_per_requester = 100000
introductions_per_subnet = 100000
introductions_per_target = 100000
introduction_burst = 1000
[metrics]
listen = "198.51.100.11:0"
"""
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


cluster = Cluster(args.overlay_node, CONFIG)
ok = False
try:
    node = cluster.node
    node.wait_log(r"ready: publicly reachable", 40)
    url = node.metrics_url()
    pid = node.proc.pid
    binds = [a for ip in client_ips(args.sources) for a in ("--bind", ip)]
    load = subprocess.Popen([args.node_load, "--node", node.endpoint, *binds, "soak",
                             "--seconds", str(args.seconds), "--rate", str(args.rate)],
                            stdout=subprocess.PIPE, text=True)
    seconds = []
    reader = threading.Thread(target=lambda: seconds.extend(json.loads(line) for line in load.stdout))
    reader.start()

    print(f"node {node.endpoint}, load {args.rate:.0f} queries/s from {args.sources} addresses "
          f"for {args.seconds:.0f} s")
    print(f"{'t (s)':>7} {'RSS MiB':>8} {'CPU %':>6} {'answered/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'timeouts':>8}")
    start = time.monotonic()
    last_cpu, last_t = cpu_seconds(pid), start
    samples = []
    while load.poll() is None:
        time.sleep(sample_every)
        now, cpu = time.monotonic(), cpu_seconds(pid)
        window = seconds[-int(sample_every):] or [{"answered": 0, "p50_ms": 0, "p99_ms": 0, "timeouts": 0}]
        row = dict(t=now - start, rss=rss_mib(pid), cpu=100 * (cpu - last_cpu) / (now - last_t),
                   answered=sum(s["answered"] for s in window) / len(window),
                   p50=sorted(s["p50_ms"] for s in window)[len(window) // 2],
                   p99=max(s["p99_ms"] for s in window), timeouts=sum(s["timeouts"] for s in window))
        samples.append(row)
        last_cpu, last_t = cpu, now
        print(f"{row['t']:7.0f} {row['rss']:8.1f} {row['cpu']:6.1f} {row['answered']:10.0f} {row['p50']:7.2f} "
              f"{row['p99']:7.2f} {row['timeouts']:8d}", flush=True)
    reader.join()
    assert load.returncode == 0, f"node_load exited {load.returncode}"

    sent = sum(s["sent"] for s in seconds)
    answered = sum(s["answered"] for s in seconds)
    p99s = sorted(s["p99_ms"] for s in seconds)
    kinds = {}
    for s in seconds:
        for kind, c in s["by_kind"].items():
            k = kinds.setdefault(kind, {"sent": 0, "answered": 0, "errors": 0})
            for field in k:
                k[field] += c[field]
    metrics = scrape(url)[0]
    rss = [r["rss"] for r in samples]
    busy = [r["cpu"] for r in samples]
    print(f"summary: {sent} queries sent, {answered} answered ({100 * answered / max(1, sent):.2f}%), "
          f"{answered / len(seconds):.0f} answered/s; p99 latency per second: median {p99s[len(p99s) // 2]:.2f} ms, "
          f"worst {p99s[-1]:.2f} ms; node CPU {sum(busy) / len(busy):.1f}% of one core on average; "
          f"RSS first {rss[0]:.1f} MiB, last {rss[-1]:.1f} MiB, max {max(rss):.1f} MiB")
    for kind, c in sorted(kinds.items()):
        print(f"  {kind:14} sent {c['sent']:8d} answered {c['answered']:8d} KRPC errors {c['errors']:6d}")
    introductions_ok = metrics['overlay_introductions_total{result="ok"}']
    print(f"  node metrics: {metrics['overlay_registrations']:.0f} registrations held, "
          f"{introductions_ok:.0f} introductions ok")
    assert answered >= 0.95 * sent, "the node answered under 95% of the queries"
    ok = True
finally:
    if not ok:
        cluster.dump_logs()
    cluster.stop(remove=ok)
print("PASS")

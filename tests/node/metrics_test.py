#!/usr/bin/python3
"""The metrics endpoint of the real overlay-node: off unless asked for; Prometheus text
format over HTTP; counters move when the node serves DHT queries, registrations and
introductions; and no label carries an address, a peer id or a node id.
Usage: metrics_test.py OVERLAY_NODE NODE_LOAD"""
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nodelab import CLIENT_IP, Cluster, enter_private_network, scrape, wait_until  # noqa: E402

NODE_BIN, LOAD_BIN = sys.argv[1], sys.argv[2]
enter_private_network()

CONFIG = """[node]
listen = "198.51.100.11:0"
[introducer]
introductions_per_requester = 1000
introductions_per_subnet = 1000
introductions_per_target = 1000
introduction_burst = 1000
[metrics]
listen = "198.51.100.11:0"
"""

SAMPLE = re.compile(r'^([a-z_][a-z0-9_]*)(\{([a-z_]+)="([a-z_]+)"\})? (-?[0-9.e+]+)$')

cluster = Cluster(NODE_BIN, CONFIG)
ok = False
try:
    node = cluster.node
    # Helpers run without [metrics]: off by default, so nothing is said about it.
    assert all("metrics at" not in h.log_text() for h in cluster.nodes[1:])
    url = node.metrics_url()
    node.wait_log(r"ready: publicly reachable", 40)

    before, content_type, body = scrape(url)
    assert content_type.startswith("text/plain; version=0.0.4"), content_type
    for line in body.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample with a plain label: {line!r}"
        # Label values are short words: never an IP, a port, a peer id or a node id.
        assert m.group(4) is None or not re.search(r"[0-9]", m.group(4)), line
    assert before["overlay_dht_routing_table_nodes"] >= 3, before
    assert before["overlay_introducer_serving"] == 1, before

    try:
        urllib.request.urlopen(url.replace("/metrics", "/other"), timeout=5)
        raise AssertionError("/other did not answer 404")
    except urllib.error.HTTPError as e:
        assert e.code == 404, e

    out = subprocess.run([LOAD_BIN, "--node", node.endpoint, "--bind", CLIENT_IP, "soak", "--seconds", "3",
                          "--rate", "200"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    seconds = [json.loads(line) for line in out.stdout.splitlines()]
    answered = sum(s["answered"] for s in seconds)
    assert answered > 0.9 * sum(s["sent"] for s in seconds), seconds

    def moved():
        after = scrape(url)[0]
        grew = lambda k: after[k] > before[k]  # noqa: E731
        return all(grew(k) for k in ['overlay_dht_queries_total{type="ping"}',
                                     'overlay_dht_queries_total{type="find_node"}',
                                     'overlay_dht_queries_total{type="get_peers"}',
                                     'overlay_dht_queries_total{type="extension"}',
                                     'overlay_dht_datagrams_total{direction="in"}',
                                     'overlay_registrations_total{result="accepted"}',
                                     'overlay_registration_signature_checks_total',
                                     'overlay_introductions_total{result="ok"}']) and after
    after = wait_until(moved, 5, "counters to move")
    assert after["overlay_registrations"] == 16, after
    ping = 'overlay_dht_queries_total{type="ping"}'
    print(f"queries answered by the node: {answered}; pings counted {before[ping]:.0f} -> {after[ping]:.0f}")
    ok = True
finally:
    if not ok:
        cluster.dump_logs()
    cluster.stop(remove=ok)
print("PASS")

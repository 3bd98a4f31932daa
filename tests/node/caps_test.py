#!/usr/bin/python3
"""The real overlay-node, started with a config file, obeys each cap it is given: most
registrations, introductions per second (overall and per requester), relay on/off,
relayed sessions, relayed bytes per second and per month, and memory for DHT storage; refusals reach the client as KRPC errors and
show in the metrics.
SIGHUP changes the caps without dropping registrations; a bad file on SIGHUP is refused.
Usage: caps_test.py OVERLAY_NODE NODE_LOAD"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nodelab import CLIENT_IP, Cluster, enter_private_network, scrape, wait_until  # noqa: E402

NODE_BIN, LOAD_BIN = sys.argv[1], sys.argv[2]
enter_private_network()

# 64 KiB for DHT storage: 3/4 for peers at 64 bytes each = 768 peers, in at most 76 info-hashes.
BASE = """[node]
listen = "198.51.100.11:0"
[dht]
storage_bytes = 65536
[metrics]
listen = "198.51.100.11:0"
"""


def config(introducer, relay=""):
    return BASE + "[introducer]\n" + introducer + "\n[relay]\n" + relay + "\n"


def load(node, *args):
    out = subprocess.run([LOAD_BIN, "--node", node.endpoint, "--bind", CLIENT_IP, *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"node_load {args} failed: {out.stderr}"
    return json.loads(out.stdout)


def metric_equals(url, name, value):
    seen = []
    try:
        wait_until(lambda: seen.append(scrape(url)[0].get(name)) or seen[-1] == value, 5, f"{name} == {value}")
    except AssertionError as e:
        raise AssertionError(f"{e}; it is {seen[-1]}") from None


UNLIMITED_PER_PEER = """introductions_per_requester = 1000
introductions_per_subnet = 1000
introductions_per_target = 1000
introduction_burst = 1000
"""

cluster = Cluster(NODE_BIN, config("max_registrations = 3\nintroductions_per_second = 5\n" + UNLIMITED_PER_PEER,
                                   "max_sessions = 2\n"),
                  helper_config="[introducer]\nenabled = false\n")
ok = False
try:
    node = cluster.node
    node.wait_log(r"ready: publicly reachable \(verified by dial-back\), serving as introducer", 40)
    url = node.metrics_url()

    # A helper with the introducer role turned off says so, and refuses introducer requests.
    helper = cluster.nodes[1]
    helper.wait_log(r"ready: publicly reachable .*introducer role turned off", 40)
    r = load(helper, "register", "1")
    assert r["outcomes"] == {"not serving as introducer": 1}, r

    # DHT storage: announces beyond the cap are answered but not stored.
    r = load(node, "announce", "100")
    assert r["outcomes"] == {"ok": 100}, r
    metric_equals(url, 'overlay_dht_queries_total{type="announce_peer"}', 100)
    metric_equals(url, "overlay_dht_stored_peers", 76)

    # Introductions overall: 5 per second, in bursts of 5. Thirty asked at once: five pass
    # (a sixth if the bucket refilled meanwhile), the rest are refused with a KRPC error.
    r = load(node, "introduce", "30")
    assert r["target_registration"] == "ok", r
    passed = r["outcomes"].get("ok", 0)
    limited = r["outcomes"].get("rate limited", 0)
    assert 5 <= passed <= 7 and passed + limited == 30, r
    metric_equals(url, 'overlay_introductions_total{result="rate_limited"}', limited)
    metric_equals(url, 'overlay_introductions_total{result="ok"}', passed)

    # Registrations: 3 at most; one is the target above, so 2 of 5 new ones fit.
    r = load(node, "register", "5")
    assert r["outcomes"] == {"ok": 2, "introducer full": 3}, r
    metric_equals(url, "overlay_registrations", 3)
    metric_equals(url, 'overlay_registrations_total{result="refused_full"}', 3)

    # SIGHUP: more registrations and introductions; the three held registrations stay.
    node.reload(config("max_registrations = 10\nintroductions_per_second = 1000\n" + UNLIMITED_PER_PEER,
                       "max_sessions = 2\n"))
    node.wait_log(r"SIGHUP: reloaded .* max 10 registrations")
    metric_equals(url, "overlay_registrations", 3)
    r = load(node, "register", "2")
    assert r["outcomes"] == {"ok": 2}, r

    # Relayed sessions: 2 at most (the target registration is the 6th of 10).
    r = load(node, "relay", "3")
    assert r["outcomes"] == {"ok": 2, "relay full": 1}, r
    metric_equals(url, "overlay_relay_sessions", 2)
    metric_equals(url, 'overlay_relay_sessions_total{result="refused"}', 1)

    # Per requester: bursts of 3, then 1 per second.
    node.reload(config("max_registrations = 10\nintroductions_per_second = 1000\nintroductions_per_requester = 1\n"
                       "introductions_per_subnet = 1000\nintroductions_per_target = 1000\nintroduction_burst = 3\n",
                       "max_sessions = 2\n"))
    r = load(node, "introduce", "10")
    assert 3 <= r["outcomes"].get("ok", 0) <= 4 and r["outcomes"].get("rate limited", 0) >= 6, r

    # Relaying turned off at run time: requests are refused (and open sessions end).
    node.reload(config("max_registrations = 10\nintroductions_per_second = 1000\n" + UNLIMITED_PER_PEER,
                       "enabled = false\n"))
    r = load(node, "relay", "1")
    assert r["outcomes"] == {"relaying is turned off on this introducer": 1}, r
    metric_equals(url, "overlay_relay_sessions", 0)

    # Relayed bytes per period: a budget of 50,000 bytes passes 50 frames of 1,000.
    node.reload(config("max_registrations = 20\nintroductions_per_second = 1000\n" + UNLIMITED_PER_PEER,
                       "bytes_per_month = 50000\n"))
    r = load(node, "relay-frames", "100", "991")
    assert r == {"mode": "relay-frames", "session": "ok", "sent": 100, "delivered": 50}, r
    metric_equals(url, 'overlay_relay_frames_dropped_total{reason="over_budget"}', 50)
    metric_equals(url, "overlay_relay_period_bytes", 50000)
    # The budget spent, new sessions are refused too.
    r = load(node, "relay", "1")
    assert r["outcomes"] == {"relay budget for this period used up": 1}, r

    # Relayed bytes per second: 1024/s, bursts up to 64 KiB, so 65 frames of 1,000 bytes
    # sent at once pass (a 66th if the bucket refilled meanwhile).
    node.reload(config("max_registrations = 20\nintroductions_per_second = 1000\n" + UNLIMITED_PER_PEER,
                       "bytes_per_second = 1024\nbytes_per_month = 0\n"))
    r = load(node, "relay-frames", "100", "991")
    assert r["session"] == "ok" and 65 <= r["delivered"] <= 66, r
    metric_equals(url, 'overlay_relay_frames_dropped_total{reason="over_rate"}', 100 - r["delivered"])

    # A broken file on SIGHUP: the node says why, keeps running with what it had.
    node.reload("[relay]\nmax_sessions = -5\n")
    node.wait_log(r"SIGHUP: keeping the running configuration: .*:2: relay.max_sessions: -5 is out of range")
    r = load(node, "register", "1")
    assert r["outcomes"] == {"ok": 1}, r
    metric_equals(url, "overlay_registrations", 11)
    ok = True
finally:
    if not ok:
        cluster.dump_logs()
    cluster.stop(remove=ok)
print("PASS")

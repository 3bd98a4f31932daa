#!/usr/bin/python3
"""overlay-node with no configuration beyond a bootstrap node decides its role by itself:
publicly reachable nodes (verified by dial-back) serve as introducers; a node whose
firewall drops unsolicited packets says on its readiness line that it runs as a plain DHT
node, does not serve as introducer (metrics), and registers with the public node instead.
Usage: role_test.py OVERLAY_NODE NODE_LOAD"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nodelab import NET, SKIP, Cluster, Node, enter_private_network, scrape, wait_until  # noqa: E402

NODE_BIN, LOAD_BIN = sys.argv[1], sys.argv[2]
if not shutil.which("nft"):
    print("SKIP: needs nft for the firewalled node")
    sys.exit(SKIP)
enter_private_network()

FIREWALLED = NET + "20"
# A stateful firewall in front of FIREWALLED only: replies to what it sent pass, nothing else.
subprocess.run(["nft", "-f", "-"], check=True, text=True, input=f"""
table inet overlay_role_test {{
  chain input {{
    type filter hook input priority 0; policy accept;
    ip daddr {FIREWALLED} ct state established,related accept
    ip daddr {FIREWALLED} drop
  }}
}}
""")

# debug: per-registration lines (with addresses) are logged at that level only.
cluster = Cluster(NODE_BIN, f'[node]\nlisten = "{NET}11:0"\nlog_level = "debug"\n')
ok = False
try:
    public = cluster.node
    public.wait_log(r"ready: publicly reachable \(verified by dial-back\), serving as introducer", 40)
    # Nothing in its file but its address, the bootstrap node and the metrics endpoint.
    firewalled = Node(NODE_BIN, cluster.workdir, "firewalled",
                      f'[node]\nlisten = "{FIREWALLED}:0"\nbootstrap = ["{public.endpoint}"]\n'
                      f'[metrics]\nlisten = "{NET}21:0"\n')
    cluster.nodes.append(firewalled)
    firewalled.wait_log(r"ready: not publicly reachable \([a-z-]+, dial-back probes did not arrive\): "
                        r"running as a plain DHT node, not as an introducer", 40)
    assert not re.search(r"\] (publicly )?reachable: serving as introducer", firewalled.log_text())
    metrics = scrape(firewalled.metrics_url())[0]
    assert metrics["overlay_introducer_serving"] == 0, metrics
    assert metrics["overlay_dht_routing_table_nodes"] >= 1, metrics
    # Behind its firewall the node is a client of the introducers: it registers with one.
    wait_until(lambda: public.find(r"registered peer"), 20, "the firewalled node to register")
    ok = True
finally:
    if not ok:
        cluster.dump_logs()
    cluster.stop(remove=ok)
print("PASS")

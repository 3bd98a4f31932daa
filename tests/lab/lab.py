#!/usr/bin/python3
"""Real-NAT namespace lab: builds a small internet out of Linux network namespaces, veth
pairs, bridges and nftables, runs the overlay binaries inside it, and always removes all of
it again (on success, failure, exception, SIGINT and SIGTERM).

Topology description (space-separated words, see README.md):
    public=n1,n2,n3            hosts with a public address on the internet bridge
    NAME=KIND[:opt]...         a router of KIND with hosts NAME1..NAMEk behind it
        KIND: masquerade | fully-random | firewall | cgnat | udp-blocked
        opt:  hosts=K (default 1), loss=P (% dropped each way on its WAN),
              direct (WAN on the internet bridge instead of behind the transit router),
              open-input (the router accepts unsolicited packets to itself),
              hops=N (1..8: WAN behind its own chain of N plain transit routers
              NAMEhop1..NAMEhopN hanging off the internet bridge, instead of behind the
              shared transit router; not with direct or firewall),
              v6 (dual stack: hosts get a global IPv6 address too, which the router
              forwards untranslated through a stateful ip6 firewall; not with cgnat or hops)
    loss=P                     % of frames dropped on the internet bridge

Address plan (documentation ranges only for "public" addresses):
    198.51.100.0/24  internet bridge: transit router .1, public hosts .11+, direct routers and
                     the first hop of each hops=N chain .101+
    203.0.113.0/24   edge bridge behind the transit router: transit .1, routers .11+
    192.0.2.0/24     one /28 per firewall router k (router .16k+1, hosts .16k+2+); for a
                     router k with hops=N the same /28 holds its chain as /31 links:
                     NAMEhopi at .16k+2(i-1), the next hop (or the router's WAN) at +1
    10.k.0.0/24      LAN of NAT router k (router .1, hosts .2+)
    100.64.k.0/24    inside of the carrier router of cgnat router k (carrier .1, home router .2)
IPv6 (2001:db8::/32 only; the third group is the IPv4 prefix's first number and the host
numbers are the IPv4 ones spelled in hex digits, so the plans read alike):
    2001:db8:198::/48    internet bridge, one link: the node at 198.51.100.N is 2001:db8:198:N::N,
                         in a /64 of its own (the DHT keeps one node per IPv6 /64, as one
                         per IPv4 address: one /64 for all would look like one host)
    2001:db8:203::/64    edge bridge: 203.0.113.N is 2001:db8:203::N (transit ::1, routers ::11+)
    2001:db8:10:k::/64   LAN of v6 router k: 10.k.0.N is 2001:db8:10:k::N (router ::1, hosts ::2+;
                         behind a v6 firewall router the same numbers as in its /28)
Only v6 routers, their hosts, the transit router and public hosts have IPv6 addresses (all
with nodad); every other node is IPv4-only.
Every namespace is named ovl-<owner pid>-<tag>-<node>, so parallel runs never collide and
leftovers of a killed run are recognisable (`lab.py --cleanup`).

Usage: lab.py up 'SPEC' [--build DIR]   build, print the nodes, wait for Ctrl-C, tear down
       lab.py --cleanup [--all]         remove namespaces and processes of dead runs
"""
import argparse
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "ovl-"
NS_RE = re.compile(r"^ovl-(\d+)-([0-9a-f]{4})-")
RUN_DIR_PREFIX = "ovl-lab-"
KINDS = ("masquerade", "fully-random", "firewall", "cgnat", "udp-blocked")
BINARIES = ("overlay-node", "overlay")
# Linked when built (the torrent rows need it): name -> folder under the build directory.
OPTIONAL_BINARIES = {"overlay-torrent": "examples"}
INTERNET = ipaddress.ip_network("198.51.100.0/24")
EDGE = ipaddress.ip_network("203.0.113.0/24")
FIREWALL_NETS = ipaddress.ip_network("192.0.2.0/24")
INTERNET6 = ipaddress.ip_network("2001:db8:198::/48")
EDGE6 = ipaddress.ip_network("2001:db8:203::/64")


def lan6(k):
    """The IPv6 LAN of router k: 2001:db8:10:k::/64, k written as in its 10.k.0.0/24."""
    return ipaddress.ip_network(f"2001:db8:10:{k}::/64")


class LabError(Exception):
    """A lab step failed; the message says which and why."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; a BaseException so that only teardown code catches it."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum, _frame):
    raise Interrupted(signum)


def install_signal_handlers():
    """Turns SIGINT and SIGTERM into Interrupted so every `with Lab(...)` tears down."""
    signal.signal(signal.SIGINT, _raise_interrupted)
    signal.signal(signal.SIGTERM, _raise_interrupted)


# ---------------------------------------------------------------- topology description

@dataclass
class RouterSpec:
    name: str
    kind: str
    hosts: int = 1
    loss: int = 0
    direct: bool = False
    open_input: bool = False
    hops: int = 0
    v6: bool = False


@dataclass
class TopologySpec:
    public: list = field(default_factory=list)
    routers: list = field(default_factory=list)
    loss: int = 0


NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")


def _percent(text, what):
    if not text.isdigit() or not 0 <= int(text) <= 100:
        raise LabError(f"{what}: loss must be a percentage 0..100, got {text!r}")
    return int(text)


def parse_spec(text):
    """Parses the one-line topology description (see the module docstring)."""
    spec = TopologySpec()
    for word in text.split():
        key, sep, value = word.partition("=")
        if not sep:
            raise LabError(f"topology: expected KEY=VALUE, got {word!r}")
        if key == "public":
            spec.public += [n for n in value.split(",") if n]
        elif key == "loss":
            spec.loss = _percent(value, "internet bridge")
        else:
            kind, *opts = value.split(":")
            if kind not in KINDS:
                raise LabError(f"topology: router {key}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
            r = RouterSpec(key, kind)
            for opt in opts:
                name, _, arg = opt.partition("=")
                if name == "hosts" and arg.isdigit() and 1 <= int(arg) <= 9:
                    r.hosts = int(arg)
                elif name == "loss":
                    r.loss = _percent(arg, f"router {key}")
                elif name == "direct" and not arg:
                    r.direct = True
                elif name == "open-input" and not arg:
                    r.open_input = True
                elif name == "hops" and arg.isdigit() and 1 <= int(arg) <= 8:
                    r.hops = int(arg)
                elif name == "v6" and not arg:
                    r.v6 = True
                else:
                    raise LabError(f"topology: router {key}: bad option {opt!r}")
            if r.hops and r.direct:
                raise LabError(f"topology: router {key}: hops= and direct both say where its WAN goes")
            if r.hops and r.kind == "firewall":
                raise LabError(f"topology: router {key}: no hops= for a firewall (its chain takes the "
                               "firewall's /28)")
            if r.v6 and (r.hops or r.kind == "cgnat"):
                raise LabError(f"topology: router {key}: v6 is not built for cgnat or hops= routers")
            spec.routers.append(r)
    names = spec.public + [r.name for r in spec.routers]
    for n in names:
        if not NAME_RE.match(n):
            raise LabError(f"topology: bad name {n!r} (lowercase letter, then up to 9 letters/digits)")
    if len(set(names)) != len(names):
        raise LabError("topology: duplicate names")
    return spec


# ---------------------------------------------------------------- small helpers

def sh(argv, input=None, timeout=30):
    """Runs a setup command; raises LabError with its stderr when it fails."""
    p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    return p.stdout


def wait_until(cond, timeout, what, interval=0.05):
    """Polls cond() until it returns something truthy (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise LabError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def list_netns():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _netns_pids(ns):
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def delete_netns(ns):
    """Kills whatever still runs inside ns, then deletes it (its veths go with it)."""
    for pid in _netns_pids(ns):
        _kill(pid, signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _owner_alive(pid):
    # A recycled pid only delays the cleanup; treating a live run as dead would break it.
    return Path(f"/proc/{pid}").exists()


def leftovers(owner_pid):
    """What a run of owner_pid left behind: namespaces, root-namespace links, processes."""
    found = [f"netns {ns}" for ns in list_netns() if ns.startswith(f"{PREFIX}{owner_pid}-")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [f"link {m}" for m in re.findall(r"^\d+: (ovl-[^:@]+)", links, re.M)]
    procs = subprocess.run(["pgrep", "-af", f"/{RUN_DIR_PREFIX}{owner_pid}-"],
                           capture_output=True, text=True).stdout
    found += [f"process {line}" for line in procs.splitlines()]
    return found


def cleanup_stale(everything=False):
    """Removes namespaces (and the processes in them) of runs whose owner is gone, or of
    every lab run when everything=True. Returns the names removed."""
    removed = []
    for ns in list_netns():
        m = NS_RE.match(ns)
        if m and (everything or not _owner_alive(int(m.group(1)))):
            delete_netns(ns)
            removed.append(ns)
    return removed


# ---------------------------------------------------------------- run directory

class RunDir:
    """/tmp/ovl-lab-<pid>-<tag>/: links to the binaries (so `pgrep -f` finds exactly this
    run's processes) and logs. Removed after a clean run, kept after a failure."""

    def __init__(self, build_dir, base=None):
        self.build_dir = Path(build_dir)
        missing = [b for b in BINARIES if not os.access(self.build_dir / "cli" / b, os.X_OK)]
        if missing:
            raise LabError(f"no {' or '.join(missing)} in {self.build_dir}/cli: build first "
                           f"(scripts/build, or ninja -C {self.build_dir} overlay-node overlay), "
                           "or pass --build DIR / set OVERLAY_BUILD_DIR")
        self.path = Path(tempfile.mkdtemp(prefix=f"{RUN_DIR_PREFIX}{os.getpid()}-", dir=base))
        (self.path / "bin").mkdir()
        for b in BINARIES:
            (self.path / "bin" / b).symlink_to((self.build_dir / "cli" / b).resolve())
        for b, folder in OPTIONAL_BINARIES.items():
            if os.access(self.build_dir / folder / b, os.X_OK):
                (self.path / "bin" / b).symlink_to((self.build_dir / folder / b).resolve())

    def has(self, name):
        return (self.path / "bin" / name).exists()

    def bin(self, name):
        return str(self.path / "bin" / name)

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


# ---------------------------------------------------------------- the lab

@dataclass
class Node:
    """A namespace with an address. public_ip is the address the internet sees for it; ip6
    its global IPv6 address, "" when it has none (IPv6 is never translated)."""
    name: str
    ns: str
    ip: str
    public_ip: str
    role: str            # public | host | router | transit | internet
    kind: str = ""       # router kind for routers and the hosts behind them
    router: str = ""     # name of the router a host sits behind
    ip6: str = ""


@dataclass
class Segment:
    """An L2 network: a bridge in namespace ns; gateway is the router that owns it. net6 (with
    gateway6) makes it dual-stack."""
    ns: str
    bridge: str
    net: ipaddress.IPv4Network
    next_host: int
    gateway: str = ""    # IP other members route through; "" on the internet bridge
    net6: ipaddress.IPv6Network = None
    gateway6: str = ""
    ports: int = 0
    # Packets are dropped at random on or beyond this segment (loss=P): see _attach.
    lossy: bool = False
    members: list = field(default_factory=list)   # (ns, ip, ip6 or "")
    routes: list = field(default_factory=list)    # (prefix, via) reachable through a member, either family

    def take_host(self):
        n = self.next_host
        self.next_host += 1
        return n

    def ip(self, n):
        return str(self.net.network_address + n)

    def ip6(self, n):
        # Host 11 is ::11, not ::b, so the two plans read alike. On a link wider than a /64
        # (the internet bridge) every host has a /64 of its own, numbered like the host.
        if not self.net6:
            return ""
        h = int(str(n), 16)
        return str(self.net6.network_address + h + (h << 64 if self.net6.prefixlen < 64 else 0))


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path


@dataclass
class Result:
    """What a command run inside the lab did; json is its stdout parsed, when it is JSON."""
    rc: int
    stdout: str
    stderr: str
    seconds: float
    json: dict = None


class Lab:
    """`with Lab(spec, rundir) as lab:` builds the topology, tears it down on exit."""

    def __init__(self, spec, rundir):
        self.spec = parse_spec(spec) if isinstance(spec, str) else spec
        self.rundir = rundir
        self.tag = secrets.token_hex(2)
        self.prefix = f"{PREFIX}{os.getpid()}-{self.tag}-"
        self.logs = rundir.path / f"logs-{self.tag}"
        self.namespaces = []
        self.nodes = {}
        self.procs = []
        self.segments = []

    # -- lifecycle

    def __enter__(self):
        self.logs.mkdir(parents=True)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Stops every process, deletes every namespace. A SIGINT/SIGTERM that arrives
        meanwhile is held and re-raised afterwards, so teardown itself is never cut short."""
        held = []
        old = {s: signal.signal(s, lambda n, _f: held.append(n)) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for p in self.procs:
                if p.popen.poll() is None:
                    _kill(p.popen.pid, signal.SIGTERM)
            deadline = time.monotonic() + 3
            for p in self.procs:
                try:
                    p.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.popen.kill()
                    p.popen.wait()
            for ns in reversed(self.namespaces):
                delete_netns(ns)
            self.namespaces.clear()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        if held:
            raise Interrupted(held[0])

    # -- building

    def _netns(self, name):
        ns = self.prefix + name
        if ns in self.namespaces:
            raise LabError(f"topology: two nodes named {name!r} (hosts are named ROUTER1, ROUTER2, ...)")
        self.namespaces.append(ns)   # recorded first: a half-made namespace is deleted too
        sh(["ip", "netns", "add", ns])
        sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        return ns

    def _sysctl(self, ns, *settings):
        # -e: the bridge keys exist only while br_netfilter is loaded
        sh(["ip", "netns", "exec", ns, "sysctl", "-qew", *settings])

    def _bridge(self, ns, name, addr=None):
        sh(["ip", "-n", ns, "link", "add", "name", name, "type", "bridge"])
        sh(["ip", "-n", ns, "link", "set", name, "up"])
        if addr:
            sh(["ip", "-n", ns, "addr", "add", addr, "dev", name])
        # With br_netfilter loaded, bridged frames would otherwise cross this namespace's
        # ip filter hooks (and a router's drop policy) on their way between two LAN hosts.
        self._sysctl(ns, "net.bridge.bridge-nf-call-iptables=0")

    def _segment(self, ns, bridge, net, first_host, gateway="", net6=None):
        if gateway:
            self._bridge(ns, bridge, f"{gateway}/{net.prefixlen}")
        else:
            self._bridge(ns, bridge)
        seg = Segment(ns, bridge, net, first_host, gateway, net6)
        if net6 and gateway:
            seg.gateway6 = seg.ip6(1)   # gateways of dual-stack segments are host 1
            sh(["ip", "-n", ns, "addr", "add", f"{seg.gateway6}/{net6.prefixlen}", "dev", bridge, "nodad"])
        self.segments.append(seg)
        return seg

    def _attach(self, seg, ns, ifname, host=None, v6=False, lossy=False):
        """Links ns to seg's bridge with a veth created directly inside the two namespaces
        (never in the root namespace, so nothing there can leak or collide). v6: an IPv6
        address too, when seg is dual-stack. lossy (or a lossy seg): packets are dropped at
        random beyond this link. Returns (ip, ip6 or "")."""
        n = host or seg.take_host()
        ip, ip6 = seg.ip(n), seg.ip6(n) if v6 else ""
        seg.ports += 1
        port = f"p{seg.ports}"
        sh(["ip", "-n", ns, "link", "add", "name", ifname, "type", "veth", "peer", "name", port, "netns", seg.ns])
        if lossy or seg.lossy:
            # A veth carries a UDP GSO run (udp_driver sends up to 32 datagrams as one) whole
            # until it is delivered, so a random drop would take the whole run; on a real
            # link the datagrams travel, and are lost, one by one. Cut runs at this link.
            sh(["ip", "-n", ns, "link", "set", "dev", ifname, "gso_max_segs", "1"])
            sh(["ip", "-n", seg.ns, "link", "set", "dev", port, "gso_max_segs", "1"])
        sh(["ip", "-n", seg.ns, "link", "set", port, "master", seg.bridge, "up"])
        sh(["ip", "-n", ns, "addr", "add", f"{ip}/{seg.net.prefixlen}", "dev", ifname])
        if ip6:
            sh(["ip", "-n", ns, "addr", "add", f"{ip6}/{seg.net6.prefixlen}", "dev", ifname, "nodad"])
        sh(["ip", "-n", ns, "link", "set", ifname, "up"])
        if seg.gateway:
            sh(["ip", "-n", ns, "route", "add", "default", "via", seg.gateway])
        if ip6 and seg.gateway6:
            sh(["ip", "-n", ns, "-6", "route", "add", "default", "via", seg.gateway6])
        seg.members.append((ns, ip, ip6))
        return ip, ip6

    def _router_rules(self, kind, open_input, loss, nat, v6):
        """nftables ruleset of a router namespace (interfaces: wan, lan); v6 adds the ip6
        firewall of a dual-stack router."""
        udp_drop = "meta l4proto udp drop" if kind == "udp-blocked" else ""
        masq = ""
        if nat:
            masq = f'oifname "wan" masquerade{" fully-random" if kind == "fully-random" else ""}'
        # Input drop: a router that answers (or conntracks) unsolicited packets to itself
        # takes the exact tuple a later punch needs (see shared/LIBTORRENT.md).
        input_policy = "accept" if open_input else "drop"
        loss_chains = ""
        if loss:
            loss_chains = f"""
  chain loss_in {{ type filter hook prerouting priority -300;
    iifname "wan" numgen random mod 100 < {loss} counter drop
  }}
  chain loss_out {{ type filter hook postrouting priority 300;
    oifname "wan" numgen random mod 100 < {loss} counter drop
  }}"""
        rules = f"""table ip ovl {{
  chain input {{ type filter hook input priority filter; policy {input_policy};
    ct state established,related accept
    iifname {{ "lo", "lan" }} accept
  }}
  chain forward {{ type filter hook forward priority filter; policy drop;
    {udp_drop}
    ct state established,related accept
    iifname "lan" accept
  }}
  chain postrouting {{ type nat hook postrouting priority srcnat; policy accept;
    {masq}
  }}{loss_chains}
}}
"""
        if not v6:
            return rules
        # No translation, only a stateful home firewall (RFC 6092). Neighbour discovery must
        # reach the router itself or nothing is forwarded at all; the last rule counts what
        # the firewall refused from the WAN, so a check can show its control was dropped here.
        return rules + f"""table ip6 ovl6 {{
  chain input {{ type filter hook input priority filter; policy {input_policy};
    ct state established,related accept
    iifname {{ "lo", "lan" }} accept
    icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} accept
  }}
  chain forward {{ type filter hook forward priority filter; policy drop;
    {udp_drop}
    ct state established,related accept
    meta l4proto ipv6-icmp accept
    iifname "lan" accept
    iifname "wan" counter drop comment "unsolicited"
  }}{loss_chains}
}}
"""

    def _router(self, name, upstream, lan_net, kind, nat, open_input=False, loss=0, net6=None):
        """A router with its LAN; net6 (its LAN's /64) makes it dual-stack. Returns
        (namespace, WAN address, WAN IPv6 address or "", LAN segment)."""
        ns = self._netns(name)
        self._sysctl(ns, "net.ipv4.ip_forward=1", *(["net.ipv6.conf.all.forwarding=1"] if net6 else []))
        wan_ip, wan_ip6 = self._attach(upstream, ns, "wan", v6=bool(net6), lossy=bool(loss))
        lan = self._segment(ns, "lan", lan_net, 2, gateway=str(lan_net.network_address + 1), net6=net6)
        lan.lossy = bool(loss)
        sh(["ip", "netns", "exec", ns, "nft", "-f", "-"],
           input=self._router_rules(kind, open_input, loss, nat, v6=bool(net6)))
        return ns, wan_ip, wan_ip6, lan

    def _build(self):
        spec = self.spec
        net_ns = self._netns("internet")
        internet = self._segment(net_ns, "br0", INTERNET, 11, net6=INTERNET6)
        internet.lossy = bool(spec.loss)
        self.nodes["internet"] = Node("internet", net_ns, "", "", "internet")
        if spec.loss:
            sh(["ip", "netns", "exec", net_ns, "nft", "-f", "-"], input=(
                "table bridge ovl {\n  chain forward {\n    type filter hook forward priority 0;\n"
                f"    numgen random mod 100 < {spec.loss} counter drop\n  }}\n}}\n"))
        edge = None
        if any(not r.direct and not r.hops for r in spec.routers):
            # A plain router between the internet bridge and the NAT routers: it decrements
            # TTL, so short-TTL packets can open a local NAT without reaching a remote one.
            t_ns = self._netns("transit")
            self._sysctl(t_ns, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
            t_ip, t_ip6 = self._attach(internet, t_ns, "wan", host=1, v6=True)
            edge = self._segment(t_ns, "edge", EDGE, 11, gateway=str(EDGE.network_address + 1), net6=EDGE6)
            internet.routes += [(str(EDGE), t_ip), (str(EDGE6), t_ip6)]
            self.nodes["transit"] = Node("transit", t_ns, t_ip, t_ip, "transit", ip6=t_ip6)
        for name in spec.public:
            ns = self._netns(name)
            ip, ip6 = self._attach(internet, ns, "eth0", v6=True)
            self.nodes[name] = Node(name, ns, ip, ip, "public", ip6=ip6)
        internet.next_host = 101
        for k, r in enumerate(spec.routers, 1):
            upstream = internet if r.direct else self._chain(k, r, internet) if r.hops else edge
            self._build_router(k, r, upstream, internet)
        self._install_routes()

    def _chain(self, k, r, internet):
        """hops=N: plain routers NAMEhop1..NAMEhopN in a row below the internet bridge
        (forwarding only: no NAT, no filter), each decrementing TTL; returns the segment
        below the last one, where the router's WAN goes. Links are /31s of the router's
        /28 in 192.0.2.0/24, and that /28 is routed down the chain."""
        block = list(FIREWALL_NETS.subnets(new_prefix=28))[k]
        links = list(block.subnets(new_prefix=31))
        upstream = internet
        for i in range(1, r.hops + 1):
            name = f"{r.name}hop{i}"
            ns = self._netns(name)
            self._sysctl(ns, "net.ipv4.ip_forward=1")
            ip, _ = self._attach(upstream, ns, "wan")
            self.nodes[name] = Node(name, ns, ip, ip, "transit")
            # Prefixes behind a member are routed by the segment's gateway (the hop above),
            # or, on the internet bridge, by every member.
            upstream.routes.append((str(block), ip))
            upstream = self._segment(ns, "next", links[i - 1], 1, gateway=str(links[i - 1].network_address))
        return upstream

    def _build_router(self, k, r, upstream, internet):
        net6 = lan6(k) if r.v6 else None
        if r.kind == "cgnat":
            carrier = f"{r.name}isp"
            c_ns, c_ip, _, inside = self._router(carrier, upstream, ipaddress.ip_network(f"100.64.{k}.0/24"),
                                              "masquerade", nat=True, open_input=r.open_input, loss=r.loss)
            self.nodes[carrier] = Node(carrier, c_ns, c_ip, c_ip, "router", r.kind)
            ns, wan_ip, wan_ip6, lan = self._router(r.name, inside, ipaddress.ip_network(f"10.{k}.0.0/24"),
                                                    "masquerade", nat=True, open_input=r.open_input)
            public_ip = c_ip
        elif r.kind == "firewall":
            fw_net = list(FIREWALL_NETS.subnets(new_prefix=28))[k]
            ns, wan_ip, wan_ip6, lan = self._router(r.name, upstream, fw_net, r.kind, nat=False,
                                                    open_input=r.open_input, loss=r.loss, net6=net6)
            upstream.routes.append((str(fw_net), wan_ip))
            if upstream is not internet:
                internet.routes.append((str(fw_net), self.nodes["transit"].ip))
            public_ip = None
        else:
            ns, wan_ip, wan_ip6, lan = self._router(r.name, upstream, ipaddress.ip_network(f"10.{k}.0.0/24"),
                                                    r.kind, nat=True, open_input=r.open_input, loss=r.loss,
                                                    net6=net6)
            public_ip = wan_ip
        if net6:
            upstream.routes.append((str(net6), wan_ip6))
            if upstream is not internet:
                internet.routes.append((str(net6), self.nodes["transit"].ip6))
        self.nodes[r.name] = Node(r.name, ns, wan_ip, public_ip or wan_ip, "router", r.kind, ip6=wan_ip6)
        for i in range(1, r.hosts + 1):
            host = f"{r.name}{i}"
            h_ns = self._netns(host)
            ip, ip6 = self._attach(lan, h_ns, "eth0", v6=r.v6)
            self.nodes[host] = Node(host, h_ns, ip, public_ip or ip, "host", r.kind, r.name, ip6=ip6)

    def _install_routes(self):
        """Routes to prefixes behind a segment member: on every member of a bridge without a
        gateway (the internet), only on the gateway of the others (members default to it).
        IPv6 prefixes only where the member has an IPv6 address (IPv4-only nodes have no
        IPv6 next hop on the link)."""
        for seg in self.segments:
            targets = [(seg.ns, seg.gateway, seg.gateway6)] if seg.gateway else seg.members
            for ns, own_ip, own_ip6 in targets:
                for prefix, via in seg.routes:
                    if via not in (own_ip, own_ip6) and (own_ip6 if ":" in prefix else own_ip):
                        sh(["ip", "-n", ns, "route", "add", prefix, "via", via])

    # -- running things inside

    def node(self, name):
        if name not in self.nodes:
            raise LabError(f"no node {name!r} in this topology ({', '.join(self.nodes)})")
        return self.nodes[name]

    def bin(self, name):
        return self.rundir.bin(name)

    def spawn(self, node, name, argv):
        """Starts a background process in node's namespace; stderr goes to LOGS/name.log."""
        log = self.logs / f"{name}.log"
        with open(log, "w") as err, open(self.logs / f"{name}.out", "w") as out:
            popen = subprocess.Popen(["ip", "netns", "exec", self.node(node).ns, *argv],
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                     start_new_session=True)
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop(self, proc):
        """Stops one background process (SIGTERM, then SIGKILL after 3 s)."""
        if proc.popen.poll() is None:
            proc.popen.terminate()
            try:
                proc.popen.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
        self.procs.remove(proc)

    def wait_log(self, proc, pattern, timeout=10):
        """Waits until proc's log matches pattern; returns the match. Fails at once if the
        process exits first, quoting the end of its log."""
        rx = re.compile(pattern)

        def check():
            m = rx.search(proc.log.read_text(errors="replace"))
            if not m and proc.popen.poll() is not None:
                raise LabError(f"{proc.name} exited with {proc.popen.returncode}: {self.tail(proc)}")
            return m
        return wait_until(check, timeout, f"{proc.name} to log /{pattern}/")

    def tail(self, proc, lines=3):
        text = proc.log.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) or "(empty log)"

    def run(self, node, argv, timeout=60):
        """Runs a command in node's namespace to completion; every call is appended to
        LOGS/commands.log so a failure can be followed afterwards."""
        t0 = time.monotonic()
        p = subprocess.run(["ip", "netns", "exec", self.node(node).ns, *argv],
                           capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        res = Result(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
        try:
            res.json = json.loads(p.stdout)
        except ValueError:
            pass
        with open(self.logs / "commands.log", "a") as f:
            f.write(f"[{node}] {' '.join(argv)}\n  exit {p.returncode} in {res.seconds:.2f}s\n"
                    f"  stdout: {p.stdout.strip()}\n  stderr: {p.stderr.strip()}\n")
        return res

    def describe(self):
        rows = [f"{'node':<10} {'role':<8} {'kind':<13} {'address':<15} {'public':<15} {'ipv6':<22} namespace"]
        for n in self.nodes.values():
            if n.role != "internet":
                rows.append(f"{n.name:<10} {n.role:<8} {n.kind or '-':<13} {n.ip:<15} {n.public_ip:<15} "
                            f"{n.ip6 or '-':<22} {n.ns}")
        return "\n".join(rows)


# ---------------------------------------------------------------- command line

def start_introducers(lab, names, port=6881, timeout=40, extra=()):
    """Starts overlay-node (with `extra` flags) on each public node in `names`, each
    bootstrapping through the others, and waits until every one has verified by dial-back that it is publicly
    reachable and serves as an introducer. Returns {name: ip}."""
    ips = {n: lab.node(n).ip for n in names}
    procs = {}
    for n in names:
        boot = [a for m in names if m != n for a in ("--bootstrap", f"{ips[m]}:{port}")]
        procs[n] = lab.spawn(n, f"node-{n}", [lab.bin("overlay-node"), "--listen", f"{ips[n]}:{port}", *boot,
                                              *extra])
    for n in names:
        lab.wait_log(procs[n], r"reachable: serving as introducer", timeout=timeout)
    return ips


def default_build():
    return os.environ.get("OVERLAY_BUILD_DIR") or str(Path(__file__).resolve().parents[2] / "build")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cleanup", action="store_true", help="remove namespaces and processes of dead lab runs")
    ap.add_argument("--all", action="store_true", help="with --cleanup: of every lab run, even live ones")
    ap.add_argument("--build", default=default_build(), help="build directory (default $OVERLAY_BUILD_DIR or REPO/build)")
    ap.add_argument("command", nargs="?", choices=["up"])
    ap.add_argument("spec", nargs="?", help="topology description, e.g. 'public=n1 ma=masquerade'")
    args = ap.parse_args()
    if args.cleanup:
        removed = cleanup_stale(everything=args.all)
        print(f"removed {len(removed)} namespace(s)" + (": " + " ".join(removed) if removed else ""))
        return 0
    if args.command != "up" or not args.spec:
        ap.error("expected `up SPEC` or --cleanup")
    install_signal_handlers()
    rundir = None
    try:
        rundir = RunDir(args.build)
        with Lab(args.spec, rundir) as lab:
            print(lab.describe())
            print(f"\nbinaries: {rundir.path}/bin; run e.g. `ip netns exec {lab.prefix}NODE CMD`; "
                  "Ctrl-C tears everything down", flush=True)
            signal.pause()
    except Interrupted:
        pass
    except LabError as e:
        print(f"lab: {e}", file=sys.stderr)
        return 1
    if rundir:
        rundir.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())

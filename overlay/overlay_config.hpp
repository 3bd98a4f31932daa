// Settings of an overlay node, with the defaults it runs with. Volunteers' caps live
// here too; overlay-node exposes each as a flag.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/time.hpp"
#include "dht/node_config.hpp"
#include "overlay/birthday_probe.hpp"
#include "overlay/nat_profile.hpp"
#include "overlay/relay_table.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace ovl::overlay {

struct introducer_limits {
    bool enabled = true;
    std::size_t max_registrations = 100000;
    // Introductions per second: overall, per requester IP, per requester /24, per target.
    double introductions_per_second = 2000;
    double per_requester_per_second = 2;
    double per_subnet_per_second = 10;
    double per_target_per_second = 5;
    double burst = 10;
};

// What a peer may use to reach another (the user's choice).
enum class path_policy { direct_only, relay_ok, relay_only };

struct overlay_config {
    dht::node_config dht;
    // The socket's own address (what "no NAT" is judged against).
    endpoint local;
    // The node's IPv6 socket, when the host has one beside the IPv4 socket (it then also
    // sets dht.families to both): its port, and its address if bound to one (a socket on
    // [::] leaves the address to what DHT nodes report seeing).
    std::optional<endpoint> local6;
    // LAN endpoints to offer peers behind the same NAT.
    std::vector<endpoint> lan;

    introducer_limits introducer;
    relay_limits relay;
    path_policy policy = path_policy::relay_ok;
    // Introducers a firewalled node keeps registrations with.
    std::size_t introducers_wanted = 3;
    // Registration refresh; must stay well inside NAT UDP timeouts (Linux: 30 s unreplied).
    duration keepalive_interval = std::chrono::seconds(20);
    duration registration_ttl = std::chrono::seconds(60);
    // Reachability checks: how many helpers per round, how long to wait for probes,
    // and how often to repeat once settled.
    std::size_t dial_back_helpers = 5;
    duration dial_back_wait = std::chrono::seconds(3);
    duration reachability_interval = std::chrono::minutes(5);
    // How long a node must have stayed reachable before it serves as an introducer.
    duration introducer_after = std::chrono::seconds(0);
    // Contact records (BEP 44): republished this often, and when the introducers change.
    // Their sequence numbers start at `record_seq_base`, which the edge sets from the wall
    // clock so that a restarted peer's records still supersede its old ones.
    duration record_interval = std::chrono::minutes(15);
    std::int64_t record_seq_base = 0;
    // Hole punching: probe spacing and how long to keep trying.
    duration punch_interval = std::chrono::milliseconds(100);
    duration punch_timeout = std::chrono::seconds(5);
    // The first probe round's TTL (0: full): past our own NAT and a carrier NAT, short of
    // the peer's; full probes follow `punch_opening_lead` later (the schedule's delay).
    std::uint8_t punch_opening_ttl = 5;
    duration punch_opening_lead = std::chrono::milliseconds(50);
    // Where both ends have IPv6, an IPv4 answer waits this long for an IPv6 one, which is
    // preferred (RFC 8305's connection attempt delay; its 100 ms minimum).
    duration punch_ipv6_grace = std::chrono::milliseconds(100);
    // Many-socket probing (birthday_probe.hpp): its sizes, and how many may run at once
    // (each holds up to `birthday.sockets` file descriptors while it runs).
    birthday_probe::settings birthday;
    std::size_t max_birthdays = 2;

    // Set by a host that sends every datagram over TCP because UDP is blocked here: the
    // node tells peers `udp-blocked`, and connections are punched over TCP (simultaneous
    // open, made by the host: overlay_node::poll_tcp_punch) before any relay is tried.
    bool udp_blocked = false;
    // How long the host keeps retrying a TCP simultaneous open.
    duration tcp_punch_timeout = std::chrono::seconds(6);

    // Set by a host that owns neither the socket's raw datagrams nor the connections (the
    // torrent plugin): dial-back probes could not reach it, so the host states whether it
    // is reachable, and introductions go to the host (overlay_node::introduce and
    // set_introduction_handler) instead of being punched by the node.
    std::optional<reachability> assumed_reachability;
};

} // namespace ovl::overlay

// What travels through the simulated internet: one UDP datagram or one TCP segment, plus
// the reasons the simulator can give for not delivering it.
#pragma once

#include "dht/base/datagram.hpp"
#include "dht/base/endpoint.hpp"

#include <cstdint>
#include <string_view>

namespace ovl::sim {

enum class protocol : std::uint8_t { udp, tcp };

// TCP control bits; only those the NAT and the handshake model look at.
namespace tcp_flag {
inline constexpr std::uint8_t syn = 1;
inline constexpr std::uint8_t ack = 2;
inline constexpr std::uint8_t rst = 4;
} // namespace tcp_flag

struct packet {
    protocol proto = protocol::udp;
    std::uint8_t flags = 0;
    endpoint src;
    endpoint dst;
    bytes payload;
    // IP TTL: each NAT, firewall and the internet's transit routers take their share.
    std::uint8_t ttl = 64;
    // Set by the network when it schedules the packet's next arrival, from what it read
    // then, so that the arrival need not load the node again: at which node; whether it
    // is a gateway reached from its inside; and for a NAT, its index and inside realm.
    bool from_inside = false;
    std::uint32_t next_node = 0;
    std::uint32_t next_nat = 0;
    std::uint32_t next_inner_realm = 0;
    // next_nat of a packet whose next node is a host.
    static constexpr std::uint32_t not_a_nat = ~std::uint32_t{0};
};

enum class drop_reason : std::uint8_t {
    loss,             // the link lost it
    no_route,         // no host or NAT owns the destination address
    no_mapping,       // inbound to a NAT port with no live mapping
    nat_filtered,     // a mapping exists but its filter refuses this remote
    hairpin_disabled, // inside host addressed the NAT's own public address
    udp_blocked,      // the NAT drops all UDP
    no_listener,      // nothing bound on the destination host port
    host_dead,        // the sending or receiving host was killed
    ttl_expired,      // its TTL ran out at a router (no mapping made, nothing delivered)
    count_
};

inline constexpr std::size_t drop_reason_count = static_cast<std::size_t>(drop_reason::count_);

std::string_view to_string(drop_reason r);
std::string_view to_string(protocol p);

} // namespace ovl::sim

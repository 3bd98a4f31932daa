// What travels through the simulated internet: one UDP datagram or one TCP segment, plus
// the reasons the simulator can give for not delivering it.
#pragma once

#include "dht/base/datagram.hpp"
#include "dht/base/endpoint.hpp"

#include <algorithm>
#include <array>
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

// Laid out for the hop and the delivery: the first cache line holds all a hop reads, the
// next one a small payload (most are), so that a delivery reads lines next to those the
// hop loaded instead of a block allocated elsewhere. Larger payloads keep their own block.
struct alignas(64) packet {
    static constexpr std::uint8_t default_ttl = 64;

    packet(protocol p, std::uint8_t f, const endpoint& from, const endpoint& to, bytes payload, std::uint8_t t) {
        assign(p, f, from, to, std::move(payload), t);
    }
    // Reuses the packet (and its lines) for another one.
    void assign(protocol p, std::uint8_t f, const endpoint& from, const endpoint& to, bytes payload, std::uint8_t t) {
        proto = p;
        flags = f;
        ttl = t;
        from_inside = false;
        src = from;
        dst = to;
        next_node = next_nat = next_inner_realm = next_outer_realm = 0;
        set_payload(std::move(payload));
    }

    protocol proto = protocol::udp;
    std::uint8_t flags = 0;
    // IP TTL: each NAT, firewall and the internet's transit routers take their share.
    std::uint8_t ttl = default_ttl;
    // Set by the network when it schedules the packet's next arrival, from what it read
    // then, so that the arrival need not load the node again: whether the next node is a
    // gateway reached from its inside; which node; and for a NAT, its index and its realms.
    bool from_inside = false;
    endpoint src;
    endpoint dst;
    std::uint32_t next_node = 0;
    std::uint32_t next_nat = 0;
    std::uint32_t next_inner_realm = 0;
    std::uint32_t next_outer_realm = 0;
    std::uint32_t payload_size = 0;

    // next_nat of a packet whose next node is a host.
    static constexpr std::uint32_t not_a_nat = ~std::uint32_t{0};
    static constexpr std::size_t inline_capacity = 104;

    bytes_view payload() const {
        return payload_size <= inline_capacity ? bytes_view(inline_payload_.data(), payload_size)
                                               : bytes_view(large_payload_);
    }
    void set_payload(bytes payload) {
        const auto size = static_cast<std::uint32_t>(payload.size());
        if (size <= inline_capacity) {
            // The block of a large payload this packet held before (a dropped one keeps it).
            if (payload_size > inline_capacity) large_payload_ = bytes{};
            std::copy(payload.begin(), payload.end(), inline_payload_.begin());
        } else {
            large_payload_ = std::move(payload);
        }
        payload_size = size;
    }

    // The payload as a block of its own: a small one copied, a large one moved out.
    bytes take_payload() {
        if (payload_size <= inline_capacity) return bytes(inline_payload_.begin(), inline_payload_.begin() + payload_size);
        return std::move(large_payload_);
    }

private:
    std::array<std::uint8_t, inline_capacity> inline_payload_;
    bytes large_payload_;
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

// One NAT's (or stateful firewall's) translation table: mappings from an internal endpoint
// to an external one, per-mapping filters, idle timeouts, and the conntrack side effects of
// unsolicited inbound packets. Pure state: the network calls it when a packet crosses.
#pragma once

#include "sim/flat_map.hpp"
#include "sim/nat_config.hpp"
#include "sim/packet.hpp"

#include "dht/base/endpoint.hpp"
#include "dht/base/random.hpp"
#include "dht/base/time.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace ovl::sim {

// The endpoint a packet continues with, or why it stops here.
struct translation {
    endpoint ep;
    std::optional<drop_reason> drop;
    bool ok() const { return !drop; }
};

// Cache-line aligned: a packet through the NAT reads its first lines.
class alignas(64) nat {
public:
    nat(const nat_config& config, ip_address external_ip);

    // A packet from `src` inside to `dst` outside: the source address it leaves with.
    translation outbound(timestamp now, protocol proto, std::uint8_t flags, const endpoint& src,
                         const endpoint& dst, random_source& rng);
    // A packet from `src` outside to `dst` (an external endpoint of this NAT, or an inside
    // host's own address for a firewall): the internal endpoint it goes to.
    translation inbound(timestamp now, protocol proto, std::uint8_t flags, const endpoint& src,
                        const endpoint& dst);

    // Start loading what a packet through the NAT reads, in two steps for a caller that
    // has other work between them: first the NAT's own lines, then (reading those) the
    // mapping that the packet's direction found last.
    [[gnu::always_inline]] void prefetch() const {
        __builtin_prefetch(this);
        __builtin_prefetch(&mappings_);
        __builtin_prefetch(&last_by_flow_);
        __builtin_prefetch(&last_by_external_);
        __builtin_prefetch(&held_tuples_);
    }
    [[gnu::always_inline]] void prefetch_mapping(bool outbound) const {
        const last_found& last = outbound ? last_by_flow_ : last_by_external_;
        if (last.id != last_found::none) __builtin_prefetch(&mappings_[last.id]);
    }
    // Where an inbound packet most likely goes: the internal endpoint of the mapping the
    // inbound index found last (a hint for prefetching; null if none).
    const endpoint* likely_inbound_target() const {
        const std::uint32_t id = last_by_external_.id;
        return id == last_found::none ? nullptr : &mappings_[id].internal;
    }

    const nat_config& config() const { return config_; }
    ip_address external_ip() const { return external_ip_; }
    // Mappings not yet expired at `now` (tests, statistics).
    std::size_t live_mappings(timestamp now) const;

private:
    // (protocol, two endpoints): an outbound flow key, an external endpoint, or a tuple.
    struct flow_key {
        protocol proto;
        bool exact;
        endpoint a;
        endpoint b;
        friend bool operator==(const flow_key&, const flow_key&) = default;
    };
    struct flow_key_hash {
        std::uint64_t operator()(const flow_key& k) const {
            return mix64(hash_of(k.a) * 0x9e3779b97f4a7c15ULL ^ hash_of(k.b) ^
                         (static_cast<std::uint64_t>(k.proto) << 1 | static_cast<std::uint64_t>(k.exact)));
        }
    };
    struct endpoint_key_hash {
        std::uint64_t operator()(const endpoint& e) const { return hash_of(e); }
    };
    using flow_index = flat_map<flow_key, std::uint32_t, flow_key_hash>;
    // A mapping's first line holds everything a packet through it reads: its expiry, the
    // first permitted remote (most mappings see one, so it is kept inline), the internal
    // endpoint and the external port. What only creation, removal and further remotes
    // touch follows in the next lines.
    struct alignas(64) mapping {
        timestamp expires;
        // When the first remote's permission lapses; timestamp{}: no first remote.
        timestamp first_permit_until{};
        // A permitted remote: its endpoint under address-and-port-dependent filtering, its
        // address with port 0 under address-dependent filtering.
        endpoint first_permit;
        endpoint internal;
        // With the NAT's external address, the external endpoint (a firewall's is internal).
        std::uint16_t external_port = 0;
        bool saw_syn_out = false;
        bool saw_syn_in = false;
        bool established = false;
        bool live = false;
        // Remotes permitted besides the first → time their permission lapses.
        flat_map<endpoint, timestamp, endpoint_key_hash> more_permits;
        flow_key key;
        std::size_t prune_at = 64;

        bool has_first_permit() const { return first_permit_until != timestamp{}; }
        std::size_t permits() const { return (has_first_permit() ? 1 : 0) + more_permits.size(); }
    };

    endpoint remote_key(const endpoint& dst) const;
    duration timeout(protocol proto, const mapping& m) const;
    // The mapping an index last found, and under which key: most NATs serve one flow at a
    // time, so a packet usually finds its mapping here without loading the index's slots.
    // remove() forgets it, so it never names a removed (or reused) mapping.
    struct last_found {
        flow_key key{};
        std::uint32_t id = none;
        static constexpr std::uint32_t none = ~std::uint32_t{0};
    };
    mapping* find(const flow_index& index, last_found& last, const flow_key& key, timestamp now);
    mapping& create(timestamp now, const flow_key& key, const endpoint& src, std::uint16_t port);
    void remove(std::uint32_t id);
    std::optional<std::uint16_t> allocate_port(timestamp now, protocol proto, const endpoint& src,
                                               const endpoint& dst, bool allow_preserve,
                                               random_source& rng);
    bool port_free(timestamp now, protocol proto, std::uint16_t port, const endpoint& dst);
    bool tuple_held(timestamp now, protocol proto, const endpoint& external, const endpoint& remote);
    endpoint external_of(const mapping& m) const {
        return config_.translate ? endpoint{external_ip_, m.external_port} : m.internal;
    }
    // The key under which the filter keeps `remote`.
    endpoint permit_key(const endpoint& remote) const;
    // Sets the remote's permission; true if it was not there before.
    static bool set_permit(mapping& m, const endpoint& remote, timestamp until);
    static const timestamp* find_permit(const mapping& m, const endpoint& remote);
    void permit(timestamp now, protocol proto, mapping& m, const endpoint& remote);
    bool permitted(timestamp now, const mapping& m, const endpoint& remote) const;
    void track_tcp(mapping& m, std::uint8_t flags, bool outbound);
    void note_unsolicited(timestamp now, protocol proto, const endpoint& src, const endpoint& dst);
    void sweep(timestamp now);

    // What every packet reads comes first, so that it shares few cache lines.
    nat_config config_;
    ip_address external_ip_;
    std::size_t exact_count_ = 0;
    std::vector<mapping> mappings_;
    last_found last_by_flow_;
    last_found last_by_external_;
    // Conntrack entries created by unsolicited inbound packets: (external, remote) → expiry.
    // Every outward packet asks whether it is empty, so it sits with the hot members.
    flat_map<flow_key, timestamp, flow_key_hash> held_tuples_;
    flow_index by_flow_;
    flow_index by_external_;
    std::vector<std::uint32_t> free_;
    std::size_t live_count_ = 0;
    std::size_t sweep_at_ = 1024;
    std::uint32_t next_sequential_ = 0;
};

} // namespace ovl::sim

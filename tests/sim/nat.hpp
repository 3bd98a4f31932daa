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

class nat {
public:
    nat(const nat_config& config, ip_address external_ip);

    // A packet from `src` inside to `dst` outside: the source address it leaves with.
    translation outbound(timestamp now, protocol proto, std::uint8_t flags, const endpoint& src,
                         const endpoint& dst, random_source& rng);
    // A packet from `src` outside to `dst` (an external endpoint of this NAT, or an inside
    // host's own address for a firewall): the internal endpoint it goes to.
    translation inbound(timestamp now, protocol proto, std::uint8_t flags, const endpoint& src,
                        const endpoint& dst);

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
    struct address_key_hash {
        std::uint64_t operator()(const ip_address& a) const { return hash_of(a); }
    };
    using flow_index = flat_map<flow_key, std::uint32_t, flow_key_hash>;
    // Remote → time its permission lapses. Most mappings see one remote, so the first one
    // is kept inline: checking it costs no cache miss beyond the mapping's own.
    template <class Key, class Hash>
    class permit_set {
    public:
        const timestamp* find(const Key& remote) const {
            if (has_first_ && first_ == remote) return &first_until_;
            return rest_.find(remote);
        }
        void set(const Key& remote, timestamp until) {
            if (has_first_ && first_ == remote) {
                first_until_ = until;
            } else if (timestamp* t = rest_.find(remote)) {
                *t = until;
            } else if (!has_first_) {
                first_ = remote;
                first_until_ = until;
                has_first_ = true;
            } else {
                rest_[remote] = until;
            }
        }
        std::size_t size() const { return (has_first_ ? 1 : 0) + rest_.size(); }
        // Forgets the permissions that lapsed by `now`.
        void prune(timestamp now) {
            if (has_first_ && first_until_ <= now) has_first_ = false;
            rest_.erase_if([&](const Key&, timestamp until) { return until <= now; });
        }

    private:
        Key first_{};
        timestamp first_until_{};
        bool has_first_ = false;
        flat_map<Key, timestamp, Hash> rest_;
    };
    struct mapping {
        flow_key key;
        endpoint internal;
        endpoint external;
        timestamp expires;
        bool saw_syn_out = false;
        bool saw_syn_in = false;
        bool established = false;
        bool live = false;
        // Remote → time its permission lapses; which one is used depends on the filter.
        permit_set<endpoint, endpoint_key_hash> endpoint_permits;
        permit_set<ip_address, address_key_hash> address_permits;
        std::size_t prune_at = 64;
    };

    endpoint remote_key(const endpoint& dst) const;
    duration timeout(protocol proto, const mapping& m) const;
    mapping* find(const flow_index& index, const flow_key& key, timestamp now);
    mapping& create(timestamp now, const flow_key& key, const endpoint& src, std::uint16_t port);
    void remove(std::uint32_t id);
    std::optional<std::uint16_t> allocate_port(timestamp now, protocol proto, const endpoint& src,
                                               const endpoint& dst, bool allow_preserve,
                                               random_source& rng);
    bool port_free(timestamp now, protocol proto, std::uint16_t port, const endpoint& dst);
    bool tuple_held(timestamp now, protocol proto, const endpoint& external, const endpoint& remote);
    void permit(timestamp now, protocol proto, mapping& m, const endpoint& remote);
    bool permitted(timestamp now, const mapping& m, const endpoint& remote) const;
    void track_tcp(mapping& m, std::uint8_t flags, bool outbound);
    void note_unsolicited(timestamp now, protocol proto, const endpoint& src, const endpoint& dst);
    void sweep(timestamp now);

    nat_config config_;
    ip_address external_ip_;
    std::vector<mapping> mappings_;
    std::vector<std::uint32_t> free_;
    std::size_t live_count_ = 0;
    std::size_t sweep_at_ = 1024;
    std::size_t exact_count_ = 0;
    std::uint32_t next_sequential_ = 0;
    flow_index by_flow_;
    flow_index by_external_;
    // Conntrack entries created by unsolicited inbound packets: (external, remote) → expiry.
    flat_map<flow_key, timestamp, flow_key_hash> held_tuples_;
};

} // namespace ovl::sim

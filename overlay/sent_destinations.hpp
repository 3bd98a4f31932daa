// The endpoints and IP addresses this node has written to from its main socket, for two
// judgements: a dial-back probe from an endpoint we wrote to proves nothing about our NAT's
// filtering, and the order in which we first wrote to each IP is the order in which the NAT
// made its mappings (mapping_observer). Every datagram sent is recorded, so a record is one
// keyed hash and, usually, one cache line per table (open addressing, linear probing, at
// most half full). Bounded: once `capacity` endpoints are held everything is forgotten and
// counting starts over (a probe may then count once wrongly). The hash key is secret, so
// whoever makes us send cannot aim collisions at the tables.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/random.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace ovl::overlay {

class sent_destinations {
public:
    explicit sent_destinations(random_source& rng, std::size_t capacity = 65536);

    void record(const endpoint& to);
    bool contains(const endpoint& to) const;
    bool contains(const ip_address& to) const;
    // Which IP this was in the order of first writes (0, 1, 2, ...); nullopt if never.
    std::optional<std::uint64_t> first_write(const ip_address& to) const;
    std::size_t endpoints() const { return endpoint_count_; }

private:
    struct endpoint_slot {
        endpoint value;
        bool used = false;
    };
    struct address_slot {
        ip_address value;
        bool used = false;
        std::uint64_t order = 0;
    };

    std::uint64_t hash(const ip_address& a, std::uint16_t port) const;
    // The slot holding `key`, or the free slot where it would go.
    template <class Slots, class Key>
    static auto& find_slot(Slots& slots, const Key& key, std::uint64_t h);
    void grow();
    void clear();

    std::size_t capacity_;
    std::array<std::uint8_t, 16> key_{};
    std::vector<endpoint_slot> endpoint_slots_;
    std::vector<address_slot> address_slots_;
    std::size_t endpoint_count_ = 0;
    std::size_t address_count_ = 0;
};

} // namespace ovl::overlay

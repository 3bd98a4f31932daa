// Which node owns an address in which realm, for all realms in one table. This lookup runs
// for every packet hop: one open-addressing table makes it a single cache miss, where a
// table per realm cost two (the realm, then its slots) and a node-based unordered_map more.
// IPv4 keys pack the realm and the address into 64 bits, so those slots take 16 bytes.
#pragma once

#include "sim/flat_map.hpp"

#include "dht/base/endpoint.hpp"

#include <cstdint>
#include <cstring>

namespace ovl::sim {

class address_table {
public:
    static constexpr std::uint32_t none = ~std::uint32_t{0};

    // The node owning `a` in `realm`, or `none`.
    std::uint32_t find(std::uint32_t realm, const ip_address& a) const {
        const std::uint32_t* node = a.is_v4() ? v4_.find(v4_key(realm, a)) : v6_.find({realm, a});
        return node ? *node : none;
    }
    bool contains(std::uint32_t realm, const ip_address& a) const { return find(realm, a) != none; }
    // False if `a` is already present in `realm`.
    bool insert(std::uint32_t realm, const ip_address& a, std::uint32_t node) {
        if (contains(realm, a)) return false;
        if (a.is_v4())
            v4_[v4_key(realm, a)] = node;
        else
            v6_[{realm, a}] = node;
        return true;
    }

private:
    struct v6_key {
        std::uint32_t realm = 0;
        ip_address address;
        friend bool operator==(const v6_key&, const v6_key&) = default;
    };
    struct v4_hash {
        std::uint64_t operator()(std::uint64_t key) const { return mix64(key); }
    };
    struct v6_hash {
        std::uint64_t operator()(const v6_key& k) const { return hash_of(k.address) ^ mix64(k.realm); }
    };
    static std::uint64_t v4_key(std::uint32_t realm, const ip_address& a) {
        std::uint32_t address;
        std::memcpy(&address, a.data(), 4);
        return std::uint64_t{realm} << 32 | address;
    }

    flat_map<std::uint64_t, std::uint32_t, v4_hash> v4_;
    flat_map<v6_key, std::uint32_t, v6_hash> v6_;
};

} // namespace ovl::sim

// Which node owns an address in which realm, for all realms in one table. This lookup runs
// for every packet hop: one open-addressing table makes it a single cache miss, where a
// table per realm cost two (the realm, then its slots) and a node-based unordered_map more.
// IPv4 keys pack the realm and the address into 64 bits, so those slots take 16 bytes.
// Most realms are the inside of a NAT with one host: a realm's only IPv4 member is kept
// in a small per-realm array instead, so a lookup there costs no miss on the big table
// (which then holds little but the internet's members).
#pragma once

#include "sim/flat_map.hpp"

#include "dht/base/endpoint.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

namespace ovl::sim {

class address_table {
public:
    static constexpr std::uint32_t none = ~std::uint32_t{0};

    // The node owning `a` in `realm`, or `none`.
    std::uint32_t find(std::uint32_t realm, const ip_address& a) const {
        if (a.is_v6()) {
            const std::uint32_t* node = v6_.find({realm, a});
            return node ? *node : none;
        }
        const realm_v4 r = realm < v4_realms_.size() ? v4_realms_[realm] : realm_v4{};
        if (r.members == 0) return none;
        if (r.members == 1) return r.only_address == v4_value(a) ? r.only_node : none;
        const std::uint32_t* node = v4_.find(v4_key(realm, a));
        return node ? *node : none;
    }
    bool contains(std::uint32_t realm, const ip_address& a) const { return find(realm, a) != none; }
    // Starts loading what find(realm, a) will read, for a caller with other work first.
    [[gnu::always_inline]] void prefetch(std::uint32_t realm, const ip_address& a) const {
        if (a.is_v4() && realm < v4_realms_.size() && v4_realms_[realm].members > 1) v4_.prefetch(v4_key(realm, a));
    }
    // The realm's IPv4 member if it has exactly one, else `none`.
    std::uint32_t sole_v4_member(std::uint32_t realm) const {
        return realm < v4_realms_.size() && v4_realms_[realm].members == 1 ? v4_realms_[realm].only_node : none;
    }
    // False if `a` is already present in `realm`.
    bool insert(std::uint32_t realm, const ip_address& a, std::uint32_t node) {
        if (contains(realm, a)) return false;
        if (a.is_v6()) {
            v6_[{realm, a}] = node;
            return true;
        }
        if (realm >= v4_realms_.size()) v4_realms_.resize(realm + 1);
        realm_v4& r = v4_realms_[realm];
        if (r.members == 0) {
            r.only_address = v4_value(a);
            r.only_node = node;
        } else {
            // A second member: from now on the realm's members live in the big table.
            if (r.members == 1) v4_[std::uint64_t{realm} << 32 | r.only_address] = r.only_node;
            v4_[v4_key(realm, a)] = node;
        }
        ++r.members;
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
    // A realm's IPv4 members: how many, and the only one while there is one.
    struct realm_v4 {
        std::uint32_t members = 0;
        std::uint32_t only_address = 0;
        std::uint32_t only_node = 0;
    };
    static std::uint32_t v4_value(const ip_address& a) {
        std::uint32_t address;
        std::memcpy(&address, a.data(), 4);
        return address;
    }
    static std::uint64_t v4_key(std::uint32_t realm, const ip_address& a) {
        return std::uint64_t{realm} << 32 | v4_value(a);
    }

    std::vector<realm_v4> v4_realms_;
    flat_map<std::uint64_t, std::uint32_t, v4_hash> v4_;
    flat_map<v6_key, std::uint32_t, v6_hash> v6_;
};

} // namespace ovl::sim

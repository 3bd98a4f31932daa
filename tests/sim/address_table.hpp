// Which node owns an address inside one realm. Open addressing with linear probing: the
// internet realm holds every public host, and this lookup runs for every packet hop, where
// a node-based unordered_map spends its time in cache misses.
#pragma once

#include "dht/base/endpoint.hpp"

#include <cstdint>
#include <vector>

namespace ovl::sim {

class address_table {
public:
    static constexpr std::uint32_t none = ~std::uint32_t{0};

    // The node owning `a`, or `none`.
    std::uint32_t find(const ip_address& a) const {
        if (slots_.empty()) return none;
        for (std::size_t i = home(a);; i = (i + 1) & mask_) {
            const slot& s = slots_[i];
            if (s.value == none) return none;
            if (s.key == a) return s.value;
        }
    }
    bool contains(const ip_address& a) const { return find(a) != none; }
    // False if `a` is already present.
    bool insert(const ip_address& a, std::uint32_t value) {
        if (contains(a)) return false;
        if ((size_ + 1) * 4 > slots_.size() * 3) grow();
        place(a, value);
        ++size_;
        return true;
    }

private:
    struct slot {
        ip_address key;
        std::uint32_t value = none;
    };

    std::size_t home(const ip_address& a) const {
        std::uint64_t h = ip_address_hash{}(a);
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        return static_cast<std::size_t>(h) & mask_;
    }
    void place(const ip_address& a, std::uint32_t value) {
        std::size_t i = home(a);
        while (slots_[i].value != none) i = (i + 1) & mask_;
        slots_[i] = slot{a, value};
    }
    void grow() {
        std::vector<slot> old = std::move(slots_);
        slots_.assign(old.empty() ? 8 : old.size() * 2, slot{});
        mask_ = slots_.size() - 1;
        for (const slot& s : old)
            if (s.value != none) place(s.key, s.value);
    }

    std::vector<slot> slots_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

} // namespace ovl::sim

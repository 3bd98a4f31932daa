// A hash map with open addressing (linear probing, backward-shift deletion) whose entries
// live in one array. The simulator's per-packet lookups (NAT mappings and filters, bound
// ports) use it: a node-based std::unordered_map costs two cache misses per lookup (bucket,
// then node) where this costs one. Nothing iterates it in an order that reaches the
// simulation's output, so its layout may change freely.
#pragma once

#include "dht/base/endpoint.hpp"

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace ovl::sim {

// 64-bit finalizer (MurmurHash3's fmix64): spreads keys that differ in few bits.
inline std::uint64_t mix64(std::uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

// Inline hashes of addresses and endpoints (the library's are out of line).
inline std::uint64_t hash_of(const ip_address& a) {
    std::uint64_t lo;
    std::uint64_t hi;
    std::memcpy(&lo, a.data(), 8);
    std::memcpy(&hi, a.data() + 8, 8);
    return mix64(lo ^ mix64(hi + (a.is_v6() ? 1 : 0)));
}
inline std::uint64_t hash_of(const endpoint& e) { return hash_of(e.address) + e.port * 0x9e3779b97f4a7c15ULL; }

template <class Key, class Value, class Hash>
class flat_map {
public:
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

    Value* find(const Key& key) {
        if (size_ == 0) return nullptr;
        for (std::size_t i = home(key);; i = next(i)) {
            slot& s = slots_[i];
            if (!s.used) return nullptr;
            if (s.key == key) return &s.value;
        }
    }
    const Value* find(const Key& key) const { return const_cast<flat_map*>(this)->find(key); }
    bool contains(const Key& key) const { return find(key) != nullptr; }
    // Starts loading the slot where a look-up of `key` begins.
    [[gnu::always_inline]] void prefetch(const Key& key) const {
        if (size_ != 0) __builtin_prefetch(&slots_[home(key)]);
    }

    // The value stored under `key`, default-constructed if it was absent.
    Value& operator[](const Key& key) {
        if (Value* v = find(key)) return *v;
        if ((size_ + 1) * 4 > slots_.size() * 3) grow();
        ++size_;
        return place(key, Value{});
    }

    bool erase(const Key& key) {
        if (size_ == 0) return false;
        for (std::size_t i = home(key);; i = next(i)) {
            if (!slots_[i].used) return false;
            if (slots_[i].key == key) {
                vacate(i);
                return true;
            }
        }
    }

    // Removes every entry for which pred(key, value) holds.
    template <class Predicate>
    void erase_if(Predicate pred) {
        std::vector<slot> old = std::move(slots_);
        slots_.assign(old.size(), slot{});
        size_ = 0;
        for (slot& s : old)
            if (s.used && !pred(s.key, s.value)) {
                place(s.key, std::move(s.value));
                ++size_;
            }
    }

private:
    struct slot {
        Key key{};
        Value value{};
        bool used = false;
    };

    std::size_t home(const Key& key) const { return static_cast<std::size_t>(Hash{}(key)) & mask_; }
    std::size_t next(std::size_t i) const { return (i + 1) & mask_; }

    Value& place(const Key& key, Value value) {
        std::size_t i = home(key);
        while (slots_[i].used) i = next(i);
        slots_[i] = slot{key, std::move(value), true};
        return slots_[i].value;
    }
    void grow() {
        std::vector<slot> old = std::move(slots_);
        slots_.assign(old.empty() ? 8 : old.size() * 2, slot{});
        mask_ = slots_.size() - 1;
        for (slot& s : old)
            if (s.used) place(s.key, std::move(s.value));
    }
    // Backward-shift deletion: entries after the hole that probed past it move into it,
    // so lookups never need tombstones.
    void vacate(std::size_t hole) {
        for (std::size_t i = next(hole);; i = next(i)) {
            if (!slots_[i].used) break;
            const std::size_t want = home(slots_[i].key);
            // Moves only if its home is not cyclically within (hole, i].
            if (((i - want) & mask_) >= ((i - hole) & mask_)) {
                slots_[hole] = std::move(slots_[i]);
                hole = i;
            }
        }
        slots_[hole] = slot{};
        --size_;
    }

    std::vector<slot> slots_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

} // namespace ovl::sim

// BEP 44 mutable items stored for others, keyed by target = SHA-1(key + salt). Only
// validly signed items get in, and an item is replaced only by a higher seq. Memory is
// bounded by caps on items and bytes: a new item evicts the least recently put ones,
// so a put flood costs older items, never unbounded memory. Items expire when nobody
// puts them again within their lifetime (BEP 44 suggests two hours).
#pragma once

#include "dht/base/time.hpp"
#include "dht/mutable_item.hpp"
#include "dht/node_id.hpp"

#include <chrono>
#include <cstddef>
#include <list>
#include <optional>
#include <unordered_map>

namespace ovl::dht {

struct item_store_limits {
    std::size_t max_items = 4096;
    std::size_t max_bytes = 4 * 1024 * 1024;
    duration item_lifetime = std::chrono::hours(2);
};

// Why a put was refused; the values are the BEP 44 error codes.
enum class put_status : int {
    ok = 0,
    value_too_big = 205,
    bad_signature = 206,
    salt_too_big = 207,
    cas_mismatch = 301,
    seq_too_old = 302,
};

class item_store {
public:
    explicit item_store(item_store_limits limits = {});

    // Stores or refreshes `item` after checking sizes, signature, `cas` (the seq the
    // writer expects us to hold) and seq. The same seq is accepted only with the same value.
    put_status put(timestamp now, const mutable_item& item, std::optional<std::int64_t> cas = std::nullopt);
    // The live item at `target`, or nullptr.
    const mutable_item* get(timestamp now, const node_id& target) const;
    void expire(timestamp now);

    std::size_t size() const { return items_.size(); }
    // Bytes charged against max_bytes: value, salt and a fixed cost per item.
    std::size_t memory_bytes() const { return bytes_; }

private:
    struct entry {
        mutable_item item;
        timestamp expires;
        std::list<node_id>::iterator age;
    };
    static std::size_t cost(const mutable_item& item);
    void erase(std::unordered_map<node_id, entry, node_id_hash>::iterator it);

    item_store_limits limits_;
    std::unordered_map<node_id, entry, node_id_hash> items_;
    // Targets from least to most recently put; expiry and eviction take from the front.
    std::list<node_id> by_age_;
    std::size_t bytes_ = 0;
};

} // namespace ovl::dht

#include "dht/item_store.hpp"

namespace ovl::dht {

namespace {
// Key, signature, seq, expiry, map node and age-list node, rounded up.
constexpr std::size_t fixed_cost_per_item = 256;
} // namespace

item_store::item_store(item_store_limits limits) : limits_(limits) {}

std::size_t item_store::cost(const mutable_item& item) { return fixed_cost_per_item + item.value.size() + item.salt.size(); }

void item_store::erase(std::unordered_map<node_id, entry, node_id_hash>::iterator it) {
    bytes_ -= cost(it->second.item);
    by_age_.erase(it->second.age);
    items_.erase(it);
}

put_status item_store::put(timestamp now, const mutable_item& item, std::optional<std::int64_t> cas) {
    if (item.value.size() > max_item_value) return put_status::value_too_big;
    if (item.salt.size() > max_item_salt) return put_status::salt_too_big;
    if (!verify_item(item)) return put_status::bad_signature;
    const auto target = item_target(item.key, item.salt);
    auto it = items_.find(target);
    if (it != items_.end() && it->second.expires <= now) {
        erase(it);
        it = items_.end();
    }
    if (it != items_.end()) {
        const auto& held = it->second.item;
        if (cas && *cas != held.seq) return put_status::cas_mismatch;
        if (item.seq < held.seq || (item.seq == held.seq && item.value != held.value)) return put_status::seq_too_old;
        erase(it);
    }
    const auto needed = cost(item);
    // A store configured too small for this item keeps nothing; the writer could not act
    // on an error for that, so it is none.
    if (limits_.max_items == 0 || needed > limits_.max_bytes) return put_status::ok;
    while (!by_age_.empty() && (items_.size() >= limits_.max_items || bytes_ + needed > limits_.max_bytes))
        erase(items_.find(by_age_.front()));
    by_age_.push_back(target);
    items_.emplace(target, entry{item, now + limits_.item_lifetime, std::prev(by_age_.end())});
    bytes_ += needed;
    return put_status::ok;
}

const mutable_item* item_store::get(timestamp now, const node_id& target) const {
    auto it = items_.find(target);
    if (it == items_.end() || it->second.expires <= now) return nullptr;
    return &it->second.item;
}

void item_store::expire(timestamp now) {
    // Every item lives equally long, so the least recently put expires first.
    while (!by_age_.empty()) {
        auto it = items_.find(by_age_.front());
        if (it->second.expires > now) break;
        erase(it);
    }
}

} // namespace ovl::dht

#include "dht/routing_table.hpp"

#include "dht/secure_node_id.hpp"

#include <algorithm>

namespace ovl::dht {

namespace {
constexpr std::size_t max_buckets = 160;

auto find_entry(std::vector<node_entry>& v, const node_id& id) {
    return std::find_if(v.begin(), v.end(), [&](const node_entry& e) { return e.id == id; });
}
} // namespace

routing_table::routing_table(const node_id& self, routing_table_config config)
    : self_(self), config_(config), buckets_(1) {}

std::size_t routing_table::bucket_index(const node_id& id) const {
    auto shared = static_cast<std::size_t>(common_prefix_bits(self_, id));
    return std::min(shared, buckets_.size() - 1);
}

bool routing_table::ip_taken_by_other(const node_id& id, const endpoint& ep) const {
    if (!config_.one_node_per_ip) return false;
    auto it = ip_owner_.find(ep.address.host_block());
    return it != ip_owner_.end() && it->second != id;
}

void routing_table::add_live(bucket& b, node_entry e) {
    if (config_.one_node_per_ip) ip_owner_[e.ep.address.host_block()] = e.id;
    b.live.push_back(std::move(e));
}

void routing_table::remove_live(bucket& b, std::size_t index) {
    if (config_.one_node_per_ip) ip_owner_.erase(b.live[index].ep.address.host_block());
    b.live.erase(b.live.begin() + static_cast<std::ptrdiff_t>(index));
}

void routing_table::split_last_bucket() {
    const std::size_t old_last = buckets_.size() - 1;
    buckets_.emplace_back();
    auto& from = buckets_[old_last];
    auto& to = buckets_.back();
    to.last_changed = from.last_changed;
    auto moves = [&](const node_entry& e) { return bucket_index(e.id) != old_last; };
    for (auto* list : {&from.live, &from.replacements}) {
        auto& dest = list == &from.live ? to.live : to.replacements;
        auto split = std::stable_partition(list->begin(), list->end(), [&](const node_entry& e) { return !moves(e); });
        dest.insert(dest.end(), std::make_move_iterator(split), std::make_move_iterator(list->end()));
        list->erase(split, list->end());
    }
    // Refill the far bucket from its replacement cache now that members left.
    while (from.live.size() < config_.bucket_size && !from.replacements.empty()) {
        from.live.push_back(std::move(from.replacements.back()));
        from.replacements.pop_back();
        if (config_.one_node_per_ip) ip_owner_[from.live.back().ep.address.host_block()] = from.live.back().id;
    }
}

insert_result routing_table::on_reply(timestamp now, const node_id& id, const endpoint& ep, duration round_trip) {
    if (id == self_) return insert_result::rejected;
    if (config_.require_bep42_ids && !obeys_bep42(id, ep.address)) return insert_result::rejected;
    auto& b = buckets_[bucket_index(id)];
    if (auto it = find_entry(b.live, id); it != b.live.end()) {
        // A known id now answering from a new endpoint is not trusted to move.
        if (it->ep != ep) return insert_result::rejected;
        it->last_seen = now;
        it->failed_queries = 0;
        it->round_trip = round_trip;
        b.last_changed = now;
        return insert_result::updated;
    }
    if (ip_taken_by_other(id, ep)) return insert_result::rejected;

    node_entry entry{id, ep, now, 0, round_trip, now};
    if (b.live.size() < config_.bucket_size) {
        add_live(b, std::move(entry));
        b.last_changed = now;
        if (auto rit = find_entry(b.replacements, id); rit != b.replacements.end()) b.replacements.erase(rit);
        return insert_result::added;
    }
    if (&b == &buckets_.back() && buckets_.size() < max_buckets) {
        split_last_bucket();
        return on_reply(now, id, ep, round_trip);
    }
    for (std::size_t i = 0; i < b.live.size(); ++i) {
        if (is_bad(b.live[i])) {
            remove_live(b, i);
            add_live(b, std::move(entry));
            b.last_changed = now;
            return insert_result::added;
        }
    }
    if (auto rit = find_entry(b.replacements, id); rit != b.replacements.end()) {
        entry.first_seen = rit->first_seen;
        *rit = entry;
        return insert_result::cached;
    }
    if (b.replacements.size() >= config_.bucket_size) b.replacements.erase(b.replacements.begin());
    b.replacements.push_back(std::move(entry));
    return insert_result::cached;
}

void routing_table::on_failure(const node_id& id, const endpoint& ep) {
    auto& b = buckets_[bucket_index(id)];
    auto it = find_entry(b.live, id);
    if (it == b.live.end()) {
        if (auto rit = find_entry(b.replacements, id); rit != b.replacements.end() && rit->ep == ep)
            b.replacements.erase(rit);
        return;
    }
    if (it->ep != ep) return;
    ++it->failed_queries;
    if (is_bad(*it) && !b.replacements.empty()) {
        remove_live(b, static_cast<std::size_t>(it - b.live.begin()));
        // The most recently heard replacement is the likeliest to be alive.
        auto repl = std::move(b.replacements.back());
        b.replacements.pop_back();
        if (!ip_taken_by_other(repl.id, repl.ep)) add_live(b, std::move(repl));
    }
}

bool routing_table::has_room_for(timestamp now, const node_id& id) const {
    if (id == self_) return false;
    std::size_t index = bucket_index(id);
    const auto& b = buckets_[index];
    if (b.live.size() < config_.bucket_size) return true;
    if (index == buckets_.size() - 1 && buckets_.size() < max_buckets) return true;
    return std::any_of(b.live.begin(), b.live.end(),
                       [&](const node_entry& e) { return is_bad(e) || is_questionable(now, e); });
}

std::vector<node_entry> routing_table::closest(const node_id& target, std::size_t count) const {
    std::vector<const node_entry*> found;
    closest(target, count, found);
    std::vector<node_entry> out;
    out.reserve(found.size());
    for (const auto* e : found) out.push_back(*e);
    return out;
}

void routing_table::closest(const node_id& target, std::size_t count, std::vector<const node_entry*>& out) const {
    // Nodes fall into groups that are wholly ordered by distance to the target: first the
    // target's own bucket (they share more leading bits with it than anyone else), then
    // all deeper buckets together, then each shallower bucket, farther as its index falls.
    // So only the group that crosses `count` needs a partial sort; groups before it are
    // sorted whole, and nothing after it is looked at.
    out.clear();
    if (count == 0) return;
    auto by_distance = [&](const node_entry* a, const node_entry* b) { return closer_to(target, a->id, b->id); };
    auto take = [&](const bucket& b) {
        for (const auto& e : b.live)
            if (!is_bad(e)) out.push_back(&e);
    };
    // Sorts the group that starts at `begin`; true once `count` nodes are in hand.
    auto close_group = [&](std::size_t begin) {
        const auto first = out.begin() + static_cast<std::ptrdiff_t>(begin);
        if (out.size() < count) {
            std::sort(first, out.end(), by_distance);
            return false;
        }
        const auto keep = out.begin() + static_cast<std::ptrdiff_t>(count);
        std::partial_sort(first, keep, out.end(), by_distance);
        out.erase(keep, out.end());
        return true;
    };
    const std::size_t first = bucket_index(target);
    take(buckets_[first]);
    if (close_group(0)) return;
    std::size_t begin = out.size();
    for (std::size_t i = first + 1; i < buckets_.size(); ++i) take(buckets_[i]);
    if (close_group(begin)) return;
    for (std::size_t i = first; i-- > 0;) {
        begin = out.size();
        take(buckets_[i]);
        if (close_group(begin)) return;
    }
}

const node_entry* routing_table::find(const node_id& id) const {
    const auto& live = buckets_[bucket_index(id)].live;
    auto it = std::find_if(live.begin(), live.end(), [&](const node_entry& e) { return e.id == id; });
    return it == live.end() ? nullptr : &*it;
}

std::vector<node_entry> routing_table::questionable(timestamp now, std::size_t max) const {
    std::vector<node_entry> out;
    for (const auto& b : buckets_)
        for (const auto& e : b.live)
            if (is_questionable(now, e) && !is_bad(e)) out.push_back(e);
    std::sort(out.begin(), out.end(), [](const node_entry& a, const node_entry& b) { return a.last_seen < b.last_seen; });
    if (out.size() > max) out.resize(max);
    return out;
}

std::vector<node_id> routing_table::refresh_targets(timestamp now, duration idle, random_source& rng) {
    std::vector<node_id> out;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        auto& b = buckets_[i];
        if (now - b.last_changed < idle) continue;
        b.last_changed = now;
        // The last bucket covers our own neighbourhood: look up our own id there.
        out.push_back(i + 1 == buckets_.size() ? self_ : node_id::random_in_bucket(self_, static_cast<int>(i), rng));
    }
    return out;
}

std::size_t routing_table::size() const {
    std::size_t n = 0;
    for (const auto& b : buckets_) n += b.live.size();
    return n;
}

std::vector<node_entry> routing_table::all_nodes() const {
    std::vector<node_entry> out;
    for (const auto& b : buckets_) out.insert(out.end(), b.live.begin(), b.live.end());
    return out;
}

} // namespace ovl::dht

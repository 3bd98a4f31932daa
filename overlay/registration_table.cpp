#include "overlay/registration_table.hpp"

namespace ovl::overlay {

registration_table::registration_table(std::size_t max_registrations) : max_(max_registrations) {}

registration_table::result registration_table::upsert(timestamp now, const public_key& key, registration r) {
    if (auto it = table_.find(key); it != table_.end()) {
        it->second = std::move(r);
        return result::refreshed;
    }
    if (table_.size() >= max_) {
        expire(now);
        if (table_.size() >= max_) return result::full;
    }
    table_.emplace(key, std::move(r));
    return result::added;
}

const registration* registration_table::find(timestamp now, const public_key& key) const {
    auto it = table_.find(key);
    if (it == table_.end() || it->second.expires <= now) return nullptr;
    return &it->second;
}

bool registration_table::from_registered(timestamp now, const public_key& key, const endpoint& from) const {
    const auto* r = find(now, key);
    return r && r->observed == from;
}

void registration_table::expire(timestamp now) {
    std::erase_if(table_, [&](const auto& e) { return e.second.expires <= now; });
}

} // namespace ovl::overlay

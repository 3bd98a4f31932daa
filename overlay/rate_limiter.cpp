#include "overlay/rate_limiter.hpp"

#include <algorithm>
#include <stdexcept>

namespace ovl::overlay {

rate_limiter::rate_limiter(double rate, double burst, std::size_t max_keys)
    : rate_(rate), burst_(burst), max_keys_(max_keys) {}

void rate_limiter::evict_idle(timestamp now) {
    // A bucket that has refilled completely carries no information: forget it.
    std::erase_if(buckets_, [&](const auto& e) {
        return e.second.tokens + to_seconds(now - e.second.updated) * rate_ >= burst_;
    });
}

bool rate_limiter::allow(timestamp now, std::string_view name, double cost) {
    if (name.size() > max_key_size) throw std::length_error("rate_limiter: key longer than max_key_size");
    key k;
    std::copy(name.begin(), name.end(), k.bytes.begin());
    k.size = static_cast<std::uint8_t>(name.size());
    auto it = buckets_.find(k);
    if (it == buckets_.end()) {
        if (buckets_.size() >= max_keys_) {
            evict_idle(now);
            if (buckets_.size() >= max_keys_) return false;
        }
        it = buckets_.emplace(k, bucket{burst_, now}).first;
    }
    auto& b = it->second;
    b.tokens = std::min(burst_, b.tokens + to_seconds(now - b.updated) * rate_);
    b.updated = now;
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
}

} // namespace ovl::overlay

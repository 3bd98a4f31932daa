// Token buckets per key (a requester IP, a /24, a target), with a bounded number of
// keys: when the table is full, idle buckets are dropped first and, failing that, the
// request is refused, so a flood of distinct keys cannot grow memory.
#pragma once

#include "dht/base/time.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ovl::overlay {

class rate_limiter {
public:
    // `rate` tokens per second, bursts up to `burst`.
    rate_limiter(double rate, double burst, std::size_t max_keys = 100000);

    // Takes `cost` tokens for `key`; false (and nothing taken) when it has fewer.
    bool allow(timestamp now, std::string_view key, double cost = 1.0);
    std::size_t keys() const { return buckets_.size(); }

private:
    struct bucket {
        double tokens;
        timestamp updated;
    };
    void evict_idle(timestamp now);

    double rate_;
    double burst_;
    std::size_t max_keys_;
    // Looked up by string_view, so that checking a known key allocates nothing.
    struct key_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view k) const noexcept { return std::hash<std::string_view>{}(k); }
    };
    std::unordered_map<std::string, bucket, key_hash, std::equal_to<>> buckets_;
};

} // namespace ovl::overlay

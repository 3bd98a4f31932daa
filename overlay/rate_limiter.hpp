// Token buckets per key (a requester IP, a /24, a target), with a bounded number of
// keys: when the table is full, idle buckets are dropped first and, failing that, the
// request is refused, so a flood of distinct keys cannot grow memory.
#pragma once

#include "dht/base/time.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>

namespace ovl::overlay {

class rate_limiter {
public:
    // `rate` tokens per second, bursts up to `burst`.
    rate_limiter(double rate, double burst, std::size_t max_keys = 100000);

    // Takes `cost` tokens for `key`; false (and nothing taken) when it has fewer.
    bool allow(timestamp now, const std::string& key, double cost = 1.0);
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
    std::unordered_map<std::string, bucket> buckets_;
};

} // namespace ovl::overlay

// Token buckets per key (a requester IP, a /24, a target), with a bounded number of
// keys: when the table is full, idle buckets are dropped first and, failing that, the
// request is refused, so a flood of distinct keys cannot grow memory.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/time.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <string_view>
#include <unordered_map>

namespace ovl::overlay {

class rate_limiter {
public:
    // Keys are binary and short: an address, a prefix of one, a public key.
    static constexpr std::size_t max_key_size = 32;

    // `rate` tokens per second, bursts up to `burst`.
    rate_limiter(double rate, double burst, std::size_t max_keys = 100000);

    // Takes `cost` tokens for `key` (at most max_key_size bytes; longer keys throw
    // std::length_error); false (and nothing taken) when it has fewer.
    bool allow(timestamp now, std::string_view key, double cost = 1.0);
    std::size_t keys() const { return buckets_.size(); }

private:
    struct bucket {
        double tokens;
        timestamp updated;
    };
    // Stored inline, so that a lookup reads one node rather than a node and a string.
    struct key {
        std::array<char, max_key_size> bytes{};
        std::uint8_t size = 0;
        std::string_view view() const { return {bytes.data(), size}; }
        friend bool operator==(const key&, const key&) = default;
    };
    struct key_hash {
        std::size_t operator()(const key& k) const noexcept { return std::hash<std::string_view>{}(k.view()); }
    };
    void evict_idle(timestamp now);

    double rate_;
    double burst_;
    std::size_t max_keys_;
    std::unordered_map<key, bucket, key_hash> buckets_;
};

// An address as a limiter key: its bytes in network order (4 or 16).
inline std::string_view address_key(const ip_address& a) {
    return {reinterpret_cast<const char*>(a.data()), a.size()};
}

} // namespace ovl::overlay

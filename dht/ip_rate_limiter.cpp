#include "dht/ip_rate_limiter.hpp"

#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace ovl::dht {

ip_rate_limiter::ip_rate_limiter(const ip_rate_limit& limit, random_source& rng)
    : limit_(limit), slots_(std::bit_ceil(std::max<std::size_t>(limit.slots, 1))) {
    rng.fill(key_);
}

bool ip_rate_limiter::allow(timestamp now, const ip_address& address) {
    // Buckets per IPv6 address would multiply a host's limit, or that of a flood spoofed
    // from a victim's /64, by 2^64.
    const auto from = address.host_block();
    std::uint64_t h = 0;
    static_assert(crypto_shorthash_BYTES == sizeof h);
    crypto_shorthash(reinterpret_cast<unsigned char*>(&h), from.data(), from.size(), key_.data());
    auto& s = slots_[h & (slots_.size() - 1)];
    if (!s.used || s.address != from) {
        s = {from, true, static_cast<float>(limit_.burst), now};
    } else {
        const double elapsed = std::max(0.0, std::chrono::duration<double>(now - s.refilled).count());
        s.tokens = static_cast<float>(std::min(limit_.burst, s.tokens + elapsed * limit_.per_second));
        s.refilled = now;
    }
    if (s.tokens < 1) return false;
    s.tokens -= 1;
    return true;
}

} // namespace ovl::dht

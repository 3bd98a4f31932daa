#include "dht/token_manager.hpp"

#include <sodium.h>

#include <cstring>

namespace ovl::dht {

token_manager::token_manager(random_source& rng, timestamp now, duration rotation)
    : rng_(rng), rotation_(rotation), rotated_at_(now) {
    rng_.fill(current_);
    rng_.fill(previous_);
}

void token_manager::rotate_if_due(timestamp now) {
    if (now - rotated_at_ < rotation_) return;
    // After a long idle gap both secrets are stale: rotate twice.
    if (now - rotated_at_ >= 2 * rotation_) rng_.fill(current_);
    previous_ = current_;
    rng_.fill(current_);
    rotated_at_ = now;
}

std::string token_manager::compute(const secret& key, const ip_address& requester, const node_id& info_hash) {
    std::uint8_t input[16 + node_id::size];
    std::memcpy(input, requester.data(), requester.size());
    std::memcpy(input + requester.size(), info_hash.bytes().data(), node_id::size);
    std::uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, input, requester.size() + node_id::size, key.data());
    return {reinterpret_cast<const char*>(out), sizeof out};
}

std::string token_manager::issue(timestamp now, const ip_address& requester, const node_id& info_hash) {
    rotate_if_due(now);
    return compute(current_, requester, info_hash);
}

bool token_manager::accepts(timestamp now, const ip_address& requester, const node_id& info_hash,
                            std::string_view token) {
    rotate_if_due(now);
    if (token.size() != crypto_shorthash_BYTES) return false;
    auto matches = [&](const secret& key) {
        auto expected = compute(key, requester, info_hash);
        return sodium_memcmp(expected.data(), token.data(), expected.size()) == 0;
    };
    return matches(current_) || matches(previous_);
}

} // namespace ovl::dht

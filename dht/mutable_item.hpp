// BEP 44 mutable items: a bencoded value signed with an ed25519 key, stored in the DHT
// under target = SHA-1(public key + salt). The signature covers exactly the bytes
// "4:salt<len>:<salt>3:seqi<seq>e1:v<bencoded v>" (the salt part only when the salt is
// not empty), so any BEP 44 node (libtorrent among them) stores and serves our items.
#pragma once

#include "dht/node_id.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace ovl::dht {

using public_key = std::array<std::uint8_t, 32>;
using item_signature = std::array<std::uint8_t, 64>;
// Signs a message with the item's key; lets callers keep their secret key to themselves.
using item_signer = std::function<item_signature(std::span<const std::uint8_t>)>;

// BEP 44 limits on the bencoded value and on the salt.
inline constexpr std::size_t max_item_value = 1000;
inline constexpr std::size_t max_item_salt = 64;

struct mutable_item {
    public_key key{};
    std::string salt;
    std::int64_t seq = 0;
    // The value, bencoded: the exact bytes the signature covers.
    std::string value;
    item_signature sig{};
};

node_id item_target(const public_key& key, std::string_view salt);
std::string signing_buffer(std::string_view salt, std::int64_t seq, std::string_view encoded_value);

bool verify_item(const public_key& key, std::string_view salt, std::int64_t seq, std::string_view encoded_value,
                 const item_signature& sig);
bool verify_item(const mutable_item& item);

// `secret_key` is libsodium's 64-byte ed25519 secret key (seed followed by public key).
item_signature sign_item(std::span<const std::uint8_t, 64> secret_key, std::string_view salt, std::int64_t seq,
                         std::string_view encoded_value);
item_signature sign_item(const item_signer& signer, std::string_view salt, std::int64_t seq,
                         std::string_view encoded_value);

} // namespace ovl::dht

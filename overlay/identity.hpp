// A peer's long-term identity: an ed25519 key pair (libsodium). The public key is the
// peer id; signatures prove that records, registrations and handshakes come from it.
#pragma once

#include "dht/base/random.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ovl::overlay {

using public_key = std::array<std::uint8_t, 32>;
using signature = std::array<std::uint8_t, 64>;

std::string to_hex(std::span<const std::uint8_t> bytes);
// 64 hex digits, else nullopt.
std::optional<public_key> public_key_from_hex(std::string_view hex);
std::optional<public_key> public_key_from_bytes(std::string_view raw);

bool verify(const public_key& key, std::span<const std::uint8_t> message, const signature& sig);
std::optional<signature> signature_from_bytes(std::string_view raw);

class identity {
public:
    // A new key pair whose seed comes from `rng` (so simulated runs are reproducible).
    static identity generate(random_source& rng);
    static identity from_seed(const std::array<std::uint8_t, 32>& seed);
    // Reads a key file (64 hex digits of seed, one line); creates it (mode 0600) when
    // missing. Throws std::runtime_error with a readable message on a bad file.
    static identity load_or_create(const std::string& path);

    const public_key& public_key_bytes() const { return public_; }
    std::string peer_id() const { return to_hex(public_); }
    signature sign(std::span<const std::uint8_t> message) const;

private:
    public_key public_{};
    std::array<std::uint8_t, 64> secret_{};
};

} // namespace ovl::overlay

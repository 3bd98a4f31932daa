#include "dht/mutable_item.hpp"

#include <openssl/sha.h>
#include <sodium.h>

#include <stdexcept>

namespace ovl::dht {

namespace {
void ensure_sodium() {
    static const int ok = sodium_init();
    if (ok < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
} // namespace

node_id item_target(const public_key& key, std::string_view salt) {
    std::string input(reinterpret_cast<const char*>(key.data()), key.size());
    input += salt;
    std::array<std::uint8_t, node_id::size> digest{};
    static_assert(SHA_DIGEST_LENGTH == node_id::size);
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
    return node_id(digest);
}

std::string signing_buffer(std::string_view salt, std::int64_t seq, std::string_view encoded_value) {
    std::string out;
    out.reserve(salt.size() + encoded_value.size() + 48);
    if (!salt.empty()) {
        out += "4:salt";
        out += std::to_string(salt.size());
        out += ':';
        out += salt;
    }
    out += "3:seqi";
    out += std::to_string(seq);
    out += "e1:v";
    out += encoded_value;
    return out;
}

bool verify_item(const public_key& key, std::string_view salt, std::int64_t seq, std::string_view encoded_value,
                 const item_signature& sig) {
    ensure_sodium();
    const auto message = signing_buffer(salt, seq, encoded_value);
    const auto bytes = as_bytes(message);
    return crypto_sign_verify_detached(sig.data(), bytes.data(), bytes.size(), key.data()) == 0;
}

bool verify_item(const mutable_item& item) {
    return verify_item(item.key, item.salt, item.seq, item.value, item.sig);
}

item_signature sign_item(std::span<const std::uint8_t, 64> secret_key, std::string_view salt, std::int64_t seq,
                         std::string_view encoded_value) {
    ensure_sodium();
    const auto message = signing_buffer(salt, seq, encoded_value);
    const auto bytes = as_bytes(message);
    item_signature sig{};
    crypto_sign_detached(sig.data(), nullptr, bytes.data(), bytes.size(), secret_key.data());
    return sig;
}

item_signature sign_item(const item_signer& signer, std::string_view salt, std::int64_t seq,
                         std::string_view encoded_value) {
    const auto message = signing_buffer(salt, seq, encoded_value);
    return signer(as_bytes(message));
}

} // namespace ovl::dht

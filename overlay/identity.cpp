#include "overlay/identity.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <fstream>
#include <stdexcept>

namespace ovl::overlay {

std::string to_hex(std::span<const std::uint8_t> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (auto b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

namespace {
template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> from_hex(std::string_view hex) {
    if (hex.size() != 2 * N) return std::nullopt;
    std::array<std::uint8_t, N> out{};
    std::size_t bin_len = 0;
    if (sodium_hex2bin(out.data(), N, hex.data(), hex.size(), nullptr, &bin_len, nullptr) != 0 || bin_len != N)
        return std::nullopt;
    return out;
}
} // namespace

std::optional<public_key> public_key_from_hex(std::string_view hex) { return from_hex<32>(hex); }

std::optional<public_key> public_key_from_bytes(std::string_view raw) {
    if (raw.size() != 32) return std::nullopt;
    public_key k;
    std::copy(raw.begin(), raw.end(), k.begin());
    return k;
}

std::optional<signature> signature_from_bytes(std::string_view raw) {
    if (raw.size() != 64) return std::nullopt;
    signature s;
    std::copy(raw.begin(), raw.end(), s.begin());
    return s;
}

bool verify(const public_key& key, std::span<const std::uint8_t> message, const signature& sig) {
    return crypto_sign_verify_detached(sig.data(), message.data(), message.size(), key.data()) == 0;
}

identity identity::from_seed(const std::array<std::uint8_t, 32>& seed) {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    identity id;
    crypto_sign_seed_keypair(id.public_.data(), id.secret_.data(), seed.data());
    return id;
}

identity identity::generate(random_source& rng) {
    std::array<std::uint8_t, 32> seed;
    rng.fill(seed);
    return from_seed(seed);
}

identity identity::load_or_create(const std::string& path) {
    std::ifstream in(path);
    if (in) {
        std::string line;
        std::getline(in, line);
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.pop_back();
        auto seed = from_hex<32>(line);
        if (!seed) throw std::runtime_error("key file " + path + " does not hold 64 hex digits");
        return from_seed(*seed);
    }
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    std::array<std::uint8_t, 32> seed;
    randombytes_buf(seed.data(), seed.size());
    const auto old_mask = ::umask(077);
    std::ofstream out(path);
    ::umask(old_mask);
    if (!out) throw std::runtime_error("cannot create key file " + path);
    out << to_hex(seed) << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write key file " + path);
    return from_seed(seed);
}

signature identity::sign(std::span<const std::uint8_t> message) const {
    signature sig;
    crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
    return sig;
}

} // namespace ovl::overlay

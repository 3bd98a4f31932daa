#include "dht/base/random.hpp"

#include <sodium.h>

#include <cstring>
#include <stdexcept>

namespace ovl {

namespace {
void ensure_sodium() {
    static const int ok = sodium_init();
    if (ok < 0) throw std::runtime_error("libsodium failed to initialise");
}
} // namespace

random_source::random_source(const seed_type& seed) : key_(seed) { ensure_sodium(); }

random_source::random_source(std::uint64_t seed) {
    ensure_sodium();
    std::uint8_t in[8];
    for (int i = 0; i < 8; ++i) in[i] = static_cast<std::uint8_t>(seed >> (8 * i));
    crypto_generichash(key_.data(), key_.size(), in, sizeof in, nullptr, 0);
}

random_source random_source::from_os() {
    ensure_sodium();
    seed_type seed;
    randombytes_buf(seed.data(), seed.size());
    return random_source(seed);
}

void random_source::refill() {
    // ChaCha20 keystream: the key is the seed, the nonce counts blocks of output.
    std::uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {};
    for (std::size_t i = 0; i < sizeof nonce; ++i)
        nonce[i] = static_cast<std::uint8_t>(block_counter_ >> (8 * i));
    ++block_counter_;
    crypto_stream_chacha20(buffer_.data(), buffer_.size(), nonce, key_.data());
    used_ = 0;
}

std::uint64_t random_source::next_u64() {
    if (used_ + 8 > buffer_.size()) refill();
    std::uint64_t v;
    std::memcpy(&v, buffer_.data() + used_, 8);
    used_ += 8;
    return v;
}

std::uint64_t random_source::uniform(std::uint64_t bound) {
    // Rejection sampling keeps the distribution exactly uniform.
    const std::uint64_t limit = max() - max() % bound;
    for (;;) {
        std::uint64_t v = next_u64();
        if (v < limit) return v % bound;
    }
}

double random_source::unit() {
    return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0);
}

void random_source::fill(std::span<std::uint8_t> out) {
    for (auto& b : out) {
        if (used_ >= buffer_.size()) refill();
        b = buffer_[used_++];
    }
}

random_source::seed_type random_source::derive_seed() {
    seed_type s;
    fill(s);
    return s;
}

} // namespace ovl

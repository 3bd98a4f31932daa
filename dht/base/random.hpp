// A seeded, cryptographically strong random source. Cores draw every random value
// (transaction ids, token secrets, lookup targets) from one of these, so a seed replays
// a simulated run exactly, and a secret seed in production makes outputs unpredictable.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ovl {

class random_source {
public:
    using seed_type = std::array<std::uint8_t, 32>;

    explicit random_source(const seed_type& seed);
    // Expands a 64-bit seed (simulations, tests) into a full seed.
    explicit random_source(std::uint64_t seed);
    // Seeds from the operating system (libsodium randombytes).
    static random_source from_os();

    std::uint64_t next_u64();
    // Uniform in [0, bound); bound must be > 0.
    std::uint64_t uniform(std::uint64_t bound);
    // Uniform in [0, 1).
    double unit();
    void fill(std::span<std::uint8_t> out);
    // A new independent seed, for handing randomness to a child core.
    seed_type derive_seed();

    // UniformRandomBitGenerator, so <algorithm> shuffles can use it.
    using result_type = std::uint64_t;
    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return ~result_type{0}; }
    result_type operator()() { return next_u64(); }

private:
    void refill();

    seed_type key_;
    std::uint64_t block_counter_ = 0;
    std::array<std::uint8_t, 256> buffer_{};
    std::size_t used_ = 256;
};

} // namespace ovl

#include "dht/node_id.hpp"

#include <bit>
#include <cstring>

namespace ovl::dht {

std::optional<node_id> node_id::from_bytes(std::string_view raw) {
    if (raw.size() != size) return std::nullopt;
    node_id id;
    std::memcpy(id.bytes_.data(), raw.data(), size);
    return id;
}

std::optional<node_id> node_id::from_hex(std::string_view hex) {
    if (hex.size() != 2 * size) return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    node_id id;
    for (std::size_t i = 0; i < size; ++i) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        id.bytes_[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return id;
}

node_id node_id::random(random_source& rng) {
    node_id id;
    rng.fill(id.bytes_);
    return id;
}

node_id node_id::random_in_bucket(const node_id& base, int prefix_bits, random_source& rng) {
    node_id id = random(rng);
    if (prefix_bits >= 160) return base;
    for (int bit = 0; bit <= prefix_bits; ++bit) {
        auto byte = static_cast<std::size_t>(bit / 8);
        auto mask = static_cast<std::uint8_t>(0x80 >> (bit % 8));
        bool want = (base.bytes_[byte] & mask) != 0;
        if (bit == prefix_bits) want = !want;
        id.bytes_[byte] = want ? (id.bytes_[byte] | mask) : (id.bytes_[byte] & ~mask);
    }
    return id;
}

std::string node_id::to_hex() const {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * size);
    for (auto b : bytes_) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

int common_prefix_bits(const node_id& a, const node_id& b) {
    for (std::size_t i = 0; i < node_id::size; ++i) {
        auto x = static_cast<std::uint8_t>(a.bytes()[i] ^ b.bytes()[i]);
        if (x != 0) return static_cast<int>(i * 8) + std::countl_zero(x);
    }
    return 160;
}

bool closer_to(const node_id& target, const node_id& a, const node_id& b) {
    for (std::size_t i = 0; i < node_id::size; ++i) {
        auto da = static_cast<std::uint8_t>(a.bytes()[i] ^ target.bytes()[i]);
        auto db = static_cast<std::uint8_t>(b.bytes()[i] ^ target.bytes()[i]);
        if (da != db) return da < db;
    }
    return false;
}

std::size_t node_id_hash::operator()(const node_id& id) const noexcept {
    // Ids are uniformly random (or hashes), so their first bytes are a good hash;
    // attacker-chosen ids only cost speed in tables that are capped anyway.
    std::size_t h;
    std::memcpy(&h, id.bytes().data(), sizeof h);
    return h;
}

} // namespace ovl::dht

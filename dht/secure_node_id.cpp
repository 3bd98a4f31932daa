#include "dht/secure_node_id.hpp"

#include <array>

namespace ovl::dht {

std::uint32_t crc32c(std::span<const std::uint8_t> data) {
    // Bitwise: BEP 42 hashes at most 8 bytes, and only when ids are made or checked.
    std::uint32_t crc = 0xffffffffu;
    for (auto byte : data) {
        crc ^= byte;
        for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

namespace {

// The top 21 bits of the id BEP 42 derives from `address` and r (0..7).
std::uint32_t prefix(const ip_address& address, std::uint8_t r) {
    static constexpr std::array<std::uint8_t, 4> v4_mask{0x03, 0x0f, 0x3f, 0xff};
    static constexpr std::array<std::uint8_t, 8> v6_mask{0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff};
    const std::span<const std::uint8_t> mask = address.is_v4() ? std::span<const std::uint8_t>(v4_mask)
                                                                : std::span<const std::uint8_t>(v6_mask);
    std::array<std::uint8_t, 8> masked{};
    for (std::size_t i = 0; i < mask.size(); ++i) masked[i] = address.data()[i] & mask[i];
    masked[0] |= static_cast<std::uint8_t>((r & 7) << 5);
    return crc32c(std::span(masked.data(), mask.size())) & 0xfffff800u;
}

} // namespace

node_id secure_node_id(const ip_address& external, std::uint8_t rand, random_source& rng) {
    auto bytes = node_id::random(rng).bytes();
    const auto p = prefix(external, rand & 7);
    bytes[0] = static_cast<std::uint8_t>(p >> 24);
    bytes[1] = static_cast<std::uint8_t>(p >> 16);
    bytes[2] = static_cast<std::uint8_t>(((p >> 8) & 0xf8) | (bytes[2] & 0x07));
    bytes[19] = rand;
    return node_id(bytes);
}

bool obeys_bep42(const node_id& id, const ip_address& address) {
    if (!address.is_global()) return true;
    const auto& b = id.bytes();
    const std::uint32_t top = std::uint32_t(b[0]) << 24 | std::uint32_t(b[1]) << 16 | std::uint32_t(b[2] & 0xf8) << 8;
    return top == prefix(address, b[19] & 7);
}

} // namespace ovl::dht

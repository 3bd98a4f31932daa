// 160-bit Kademlia identifiers (node ids and info-hashes) and the XOR metric.
#pragma once

#include "dht/base/random.hpp"

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ovl::dht {

class node_id {
public:
    static constexpr std::size_t size = 20;

    constexpr node_id() = default;
    explicit node_id(const std::array<std::uint8_t, size>& b) : bytes_(b) {}
    // Exactly 20 raw bytes (as on the wire), else nullopt.
    static std::optional<node_id> from_bytes(std::string_view raw);
    // 40 hex digits, else nullopt.
    static std::optional<node_id> from_hex(std::string_view hex);
    static node_id random(random_source& rng);
    // A random id sharing the first `prefix_bits` bits with `base` and differing at the
    // next bit (a target inside one routing-table bucket).
    static node_id random_in_bucket(const node_id& base, int prefix_bits, random_source& rng);

    std::string to_bytes() const { return {reinterpret_cast<const char*>(bytes_.data()), size}; }
    std::string to_hex() const;
    const std::array<std::uint8_t, size>& bytes() const { return bytes_; }

    friend bool operator==(const node_id&, const node_id&) = default;
    friend auto operator<=>(const node_id&, const node_id&) = default;

    friend node_id operator^(const node_id& a, const node_id& b) {
        node_id r;
        for (std::size_t i = 0; i < size; ++i) r.bytes_[i] = a.bytes_[i] ^ b.bytes_[i];
        return r;
    }

private:
    std::array<std::uint8_t, size> bytes_{};
};

// Number of leading bits a and b share (160 when equal).
int common_prefix_bits(const node_id& a, const node_id& b);
// True when a is strictly closer to target than b in the XOR metric.
bool closer_to(const node_id& target, const node_id& a, const node_id& b);

struct node_id_hash {
    std::size_t operator()(const node_id& id) const noexcept;
};

} // namespace ovl::dht

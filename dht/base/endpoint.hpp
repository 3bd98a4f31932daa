// IP addresses and endpoints as plain values, so that protocol cores never need
// a socket library to name a peer. Both families travel the DHT (BEP 32).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ovl {

enum class ip_family { v4, v6 };

class ip_address {
public:
    constexpr ip_address() = default;

    static constexpr ip_address v4(std::uint32_t host_order) {
        ip_address a;
        a.v6_ = false;
        a.bytes_[0] = static_cast<std::uint8_t>(host_order >> 24);
        a.bytes_[1] = static_cast<std::uint8_t>(host_order >> 16);
        a.bytes_[2] = static_cast<std::uint8_t>(host_order >> 8);
        a.bytes_[3] = static_cast<std::uint8_t>(host_order);
        return a;
    }
    static ip_address v6(const std::array<std::uint8_t, 16>& bytes);
    // Accepts dotted quad IPv4 or RFC 4291 text IPv6; nullopt on anything else.
    static std::optional<ip_address> parse(std::string_view text);

    bool is_v4() const { return !v6_; }
    bool is_v6() const { return v6_; }
    ip_family family() const { return v6_ ? ip_family::v6 : ip_family::v4; }
    std::uint32_t v4_value() const;
    // 4 bytes for IPv4, 16 for IPv6, network order.
    const std::uint8_t* data() const { return bytes_.data(); }
    std::size_t size() const { return v6_ ? 16 : 4; }

    bool is_unspecified() const;
    bool is_loopback() const;
    // RFC 1918 / RFC 4193 private ranges.
    bool is_private() const;
    bool is_link_local() const;
    bool is_multicast() const;
    // 100.64.0.0/10, carrier-grade NAT space (RFC 6598).
    bool is_shared() const;
    // ::ffff:0:0/96, an IPv4 address dressed as IPv6.
    bool is_v4_mapped() const;
    // True for addresses the overlay may send to when it learned them from the network:
    // not private, loopback, link-local, shared, multicast or unspecified; for IPv6, only
    // global unicast (2000::/3), which excludes IPv4-mapped and ULA. Documentation ranges
    // (192.0.2.0/24 and the like, 2001:db8::/32) count as global so that labs can use them.
    bool is_global() const;
    // What one host holds: the address itself for IPv4, its /64 for IPv6 (a host holds the
    // whole prefix, and its privacy addresses rotate inside it). Per-host limits key on it.
    ip_address host_block() const;

    std::string to_string() const;

    friend bool operator==(const ip_address&, const ip_address&) = default;
    friend auto operator<=>(const ip_address&, const ip_address&) = default;

private:
    bool v6_ = false;
    std::array<std::uint8_t, 16> bytes_{};
};

struct endpoint {
    ip_address address;
    std::uint16_t port = 0;

    // "1.2.3.4:6881" or "[2001:db8::1]:6881".
    static std::optional<endpoint> parse(std::string_view text);
    std::string to_string() const;

    friend bool operator==(const endpoint&, const endpoint&) = default;
    friend auto operator<=>(const endpoint&, const endpoint&) = default;
};

struct endpoint_hash {
    std::size_t operator()(const endpoint& ep) const noexcept;
};
struct ip_address_hash {
    std::size_t operator()(const ip_address& a) const noexcept;
};

} // namespace ovl

#include "dht/base/endpoint.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace ovl {

ip_address ip_address::v6(const std::array<std::uint8_t, 16>& bytes) {
    ip_address a;
    a.v6_ = true;
    a.bytes_ = bytes;
    return a;
}

std::optional<ip_address> ip_address::parse(std::string_view text) {
    if (text.empty() || text.size() > 45) return std::nullopt;
    char buf[46];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    std::array<std::uint8_t, 16> bytes{};
    if (inet_pton(AF_INET, buf, bytes.data()) == 1) {
        return v4(std::uint32_t(bytes[0]) << 24 | std::uint32_t(bytes[1]) << 16 |
                  std::uint32_t(bytes[2]) << 8 | bytes[3]);
    }
    if (inet_pton(AF_INET6, buf, bytes.data()) == 1) return v6(bytes);
    return std::nullopt;
}

std::uint32_t ip_address::v4_value() const {
    return std::uint32_t(bytes_[0]) << 24 | std::uint32_t(bytes_[1]) << 16 |
           std::uint32_t(bytes_[2]) << 8 | bytes_[3];
}

bool ip_address::is_unspecified() const {
    for (std::size_t i = 0; i < size(); ++i)
        if (bytes_[i] != 0) return false;
    return true;
}

bool ip_address::is_loopback() const {
    if (is_v4()) return bytes_[0] == 127;
    for (int i = 0; i < 15; ++i)
        if (bytes_[i] != 0) return false;
    return bytes_[15] == 1;
}

bool ip_address::is_private() const {
    if (is_v4()) {
        return bytes_[0] == 10 || (bytes_[0] == 172 && (bytes_[1] & 0xf0) == 16) ||
               (bytes_[0] == 192 && bytes_[1] == 168);
    }
    return (bytes_[0] & 0xfe) == 0xfc;
}

bool ip_address::is_link_local() const {
    if (is_v4()) return bytes_[0] == 169 && bytes_[1] == 254;
    return bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80;
}

bool ip_address::is_multicast() const {
    if (is_v4()) return (bytes_[0] & 0xf0) == 224 || v4_value() == 0xffffffffu;
    return bytes_[0] == 0xff;
}

bool ip_address::is_shared() const {
    return is_v4() && bytes_[0] == 100 && (bytes_[1] & 0xc0) == 64;
}

bool ip_address::is_v4_mapped() const {
    static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return is_v6() && std::memcmp(bytes_.data(), mapped, 12) == 0;
}

bool ip_address::is_global() const {
    if (is_unspecified() || is_loopback() || is_private() || is_link_local() || is_multicast() ||
        is_shared())
        return false;
    if (is_v4()) return bytes_[0] != 0 && bytes_[0] < 240;
    // IPv6 global unicast is 2000::/3; outside it lie IPv4-mapped and -compatible
    // addresses, NAT64's 64:ff9b::/96 (IPv4 hosts again), ULA, site-local and reserved space.
    return (bytes_[0] & 0xe0) == 0x20;
}

ip_address ip_address::host_block() const {
    if (is_v4()) return *this;
    ip_address a = *this;
    std::fill(a.bytes_.begin() + 8, a.bytes_.end(), std::uint8_t{0});
    return a;
}

std::string ip_address::to_string() const {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
    return buf;
}

std::optional<endpoint> endpoint::parse(std::string_view text) {
    std::string_view host;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return std::nullopt;
        host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) return std::nullopt;
    }
    if (port_text.empty() || port_text.size() > 5) return std::nullopt;
    std::uint32_t port = 0;
    for (char c : port_text) {
        if (c < '0' || c > '9') return std::nullopt;
        port = port * 10 + std::uint32_t(c - '0');
    }
    if (port > 65535) return std::nullopt;
    auto addr = ip_address::parse(host);
    if (!addr) return std::nullopt;
    return endpoint{*addr, static_cast<std::uint16_t>(port)};
}

std::string endpoint::to_string() const {
    if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(port);
    return address.to_string() + ":" + std::to_string(port);
}

std::size_t ip_address_hash::operator()(const ip_address& a) const noexcept {
    // FNV-1a over the address bytes; inputs come from the network, but tables keyed
    // by address are capped, so a weak hash only costs speed, never memory.
    std::uint64_t h = 1469598103934665603ull ^ (a.is_v6() ? 6 : 4);
    for (std::size_t i = 0; i < a.size(); ++i) {
        h ^= a.data()[i];
        h *= 1099511628211ull;
    }
    return static_cast<std::size_t>(h);
}

std::size_t endpoint_hash::operator()(const endpoint& ep) const noexcept {
    std::uint64_t h = ip_address_hash{}(ep.address);
    h ^= ep.port + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return static_cast<std::size_t>(h);
}

} // namespace ovl

#include "dht/krpc/compact.hpp"

#include <algorithm>
#include <array>

namespace ovl::krpc {

std::size_t write_compact_endpoint(const endpoint& ep, std::uint8_t* out) {
    const auto n = ep.address.size();
    std::copy_n(ep.address.data(), n, out);
    out[n] = static_cast<std::uint8_t>(ep.port >> 8);
    out[n + 1] = static_cast<std::uint8_t>(ep.port & 0xff);
    return n + 2;
}

std::string compact_endpoint(const endpoint& ep) {
    std::uint8_t buf[18];
    return std::string(reinterpret_cast<const char*>(buf), write_compact_endpoint(ep, buf));
}

std::optional<endpoint> parse_compact_endpoint(std::string_view b) {
    auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(b[i]); };
    if (b.size() == 6) {
        auto addr = ip_address::v4(std::uint32_t(byte(0)) << 24 | std::uint32_t(byte(1)) << 16 |
                                   std::uint32_t(byte(2)) << 8 | byte(3));
        return endpoint{addr, static_cast<std::uint16_t>(byte(4) << 8 | byte(5))};
    }
    if (b.size() == 18) {
        std::array<std::uint8_t, 16> a;
        for (std::size_t i = 0; i < 16; ++i) a[i] = byte(i);
        return endpoint{ip_address::v6(a), static_cast<std::uint16_t>(byte(16) << 8 | byte(17))};
    }
    return std::nullopt;
}

} // namespace ovl::krpc

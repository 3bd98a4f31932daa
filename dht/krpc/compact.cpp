#include "dht/krpc/compact.hpp"

#include <array>

namespace ovl::krpc {

std::string compact_endpoint(const endpoint& ep) {
    std::string out(reinterpret_cast<const char*>(ep.address.data()), ep.address.size());
    out.push_back(static_cast<char>(ep.port >> 8));
    out.push_back(static_cast<char>(ep.port & 0xff));
    return out;
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

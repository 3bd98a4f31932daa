// Compact binary forms used on the wire: peers (BEP 5: 6 bytes IPv4, 18 bytes IPv6)
// and node infos (20-byte id followed by a compact endpoint).
#pragma once

#include "dht/base/endpoint.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ovl::krpc {

std::string compact_endpoint(const endpoint& ep);
// The same bytes written to `out` (room for 18); returns how many (6 or 18).
std::size_t write_compact_endpoint(const endpoint& ep, std::uint8_t* out);
// Accepts exactly 6 (IPv4) or 18 (IPv6) bytes.
std::optional<endpoint> parse_compact_endpoint(std::string_view bytes);

} // namespace ovl::krpc

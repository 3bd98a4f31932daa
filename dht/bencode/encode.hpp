// Canonical bencode encoding (sorted keys, shortest integers), appended to a buffer.
#pragma once

#include "dht/bencode/value.hpp"

#include <cstdint>
#include <vector>

namespace ovl::bencode {

void encode_to(const value& v, std::vector<std::uint8_t>& out);
std::vector<std::uint8_t> encode(const value& v);

} // namespace ovl::bencode

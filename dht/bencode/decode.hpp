// Decoding of untrusted bencode. The parsing itself is libtorrent's hardened bdecode
// (depth and token limits, no recursion on input); this file only converts its
// result into our value tree, so libtorrent headers stay out of every other file.
#pragma once

#include "dht/bencode/value.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace ovl::bencode {

struct decode_limits {
    int max_depth = 32;
    int max_tokens = 2000;
    std::size_t max_input = 8192;
};

// nullopt on malformed, oversized or too deeply nested input; `error` says why.
std::optional<value> decode(std::span<const std::uint8_t> input, std::string* error = nullptr,
                            const decode_limits& limits = {});

} // namespace ovl::bencode

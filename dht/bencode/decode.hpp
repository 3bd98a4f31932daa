// Decoding of untrusted bencode. The parsing itself is libtorrent's hardened bdecode
// (depth and token limits, no recursion on input); this file only converts its
// result into our value tree, so libtorrent headers stay out of every other file.
#pragma once

#include "dht/bencode/value.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ovl::bencode {

struct decode_limits {
    int max_depth = 32;
    int max_tokens = 2000;
    std::size_t max_input = 8192;
};

// nullopt on malformed, oversized or too deeply nested input; `error` says why.
std::optional<value> decode(std::span<const std::uint8_t> input, std::string* error = nullptr,
                            const decode_limits& limits = {});

// The same parse, kept as libtorrent's flat token array instead of a tree, so that a
// reader who needs a few fields of a small message (a KRPC query) pays for no tree. One
// reader reused across messages reuses its token storage. Views point into the input,
// which must outlive them; everything read is invalidated by the next parse().
class flat_reader {
public:
    flat_reader();
    ~flat_reader();
    flat_reader(const flat_reader&) = delete;
    flat_reader& operator=(const flat_reader&) = delete;

    // False on malformed, oversized or too deeply nested input, exactly as decode().
    bool parse(std::span<const std::uint8_t> input, std::string* error = nullptr, const decode_limits& limits = {});
    // The parsed input as a tree: what decode() returns.
    value tree() const;

    // Typed lookups in the root dictionary, or in a dictionary `outer` inside it; nullopt
    // when the root (or `outer`) is no dictionary, the key is absent or of another type.
    // Duplicate keys: the first one wins, as in the tree.
    std::optional<std::string_view> find_string(std::string_view key) const;
    std::optional<std::int64_t> find_int(std::string_view key) const;
    std::optional<std::string_view> find_string(std::string_view outer, std::string_view key) const;
    // Whether `outer`'s entry `key` is a list holding the string `item`.
    bool list_contains(std::string_view outer, std::string_view key, std::string_view item) const;
    // `outer`'s entry `key` as a list: its string items into `out` (replacing what was
    // there; other items skipped) and the number of all its items; nullopt when no list.
    std::optional<std::size_t> list_strings(std::string_view outer, std::string_view key,
                                            std::vector<std::string_view>& out) const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace ovl::bencode

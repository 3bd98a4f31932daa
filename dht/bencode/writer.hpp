// Bencode written straight to bytes, for hot paths that answer without building a tree
// (an introducer's ovl_introduce). The caller writes dictionary keys in canonical (sorted)
// order itself; the tests compare what it writes with encode()'s output for the same values.
#pragma once

#include <charconv>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace ovl::bencode {

class writer {
public:
    explicit writer(std::vector<std::uint8_t>& out) : out_(out) {}

    writer& dict() { return put('d'); }
    writer& list() { return put('l'); }
    writer& end() { return put('e'); }
    writer& string(std::string_view s) {
        return string({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
    }
    writer& string(std::span<const std::uint8_t> s) {
        number(static_cast<std::int64_t>(s.size()));
        put(':');
        out_.insert(out_.end(), s.begin(), s.end());
        return *this;
    }
    writer& integer(std::int64_t i) {
        put('i');
        number(i);
        return put('e');
    }
    // A key and its string value.
    writer& entry(std::string_view key, std::string_view value) { return string(key).string(value); }

private:
    writer& put(char c) {
        out_.push_back(static_cast<std::uint8_t>(c));
        return *this;
    }
    void number(std::int64_t i) {
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, i).ptr;
        out_.insert(out_.end(), digits, end);
    }

    std::vector<std::uint8_t>& out_;
};

} // namespace ovl::bencode

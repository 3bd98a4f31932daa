#include "dht/bencode/encode.hpp"

#include <charconv>

namespace ovl::bencode {

namespace {

void append(std::vector<std::uint8_t>& out, std::string_view s) {
    out.insert(out.end(), s.begin(), s.end());
}

void append_number(std::vector<std::uint8_t>& out, std::int64_t n) {
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof buf, n);
    out.insert(out.end(), buf, res.ptr);
}

void append_string(std::vector<std::uint8_t>& out, std::string_view s) {
    append_number(out, static_cast<std::int64_t>(s.size()));
    out.push_back(':');
    append(out, s);
}

} // namespace

void encode_to(const value& v, std::vector<std::uint8_t>& out) {
    if (auto i = v.as_int()) {
        out.push_back('i');
        append_number(out, *i);
        out.push_back('e');
    } else if (auto s = v.as_string()) {
        append_string(out, *s);
    } else if (auto l = v.as_list()) {
        out.push_back('l');
        for (const auto& item : *l) encode_to(item, out);
        out.push_back('e');
    } else if (auto d = v.as_dict()) {
        out.push_back('d');
        for (const auto& [key, item] : *d) {
            append_string(out, key);
            encode_to(item, out);
        }
        out.push_back('e');
    }
}

std::vector<std::uint8_t> encode(const value& v) {
    std::vector<std::uint8_t> out;
    out.reserve(256);
    encode_to(v, out);
    return out;
}

} // namespace ovl::bencode

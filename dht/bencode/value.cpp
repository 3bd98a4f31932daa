#include "dht/bencode/value.hpp"

namespace ovl::bencode {

namespace {
const value* find(const dict& d, std::string_view key) {
    auto it = d.find(key);
    return it == d.end() ? nullptr : &it->second;
}
} // namespace

const std::string* find_string(const dict& d, std::string_view key) {
    auto v = find(d, key);
    return v ? v->as_string() : nullptr;
}
const std::int64_t* find_int(const dict& d, std::string_view key) {
    auto v = find(d, key);
    return v ? v->as_int() : nullptr;
}
const dict* find_dict(const dict& d, std::string_view key) {
    auto v = find(d, key);
    return v ? v->as_dict() : nullptr;
}
const list* find_list(const dict& d, std::string_view key) {
    auto v = find(d, key);
    return v ? v->as_list() : nullptr;
}

} // namespace ovl::bencode

// A decoded bencode value (BEP 3): integer, byte string, list or dictionary. Decoded
// messages are small (one datagram), so an owning tree is simple and cheap enough.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ovl::bencode {

class value;
using list = std::vector<value>;
// Dictionaries keep keys sorted, which is also the canonical encoding order.
using dict = std::map<std::string, value, std::less<>>;

class value {
public:
    value() : v_(std::int64_t{0}) {}
    value(std::int64_t i) : v_(i) {}
    value(int i) : v_(std::int64_t{i}) {}
    value(std::string s) : v_(std::move(s)) {}
    value(std::string_view s) : v_(std::string(s)) {}
    value(const char* s) : v_(std::string(s)) {}
    value(list l) : v_(std::move(l)) {}
    value(dict d) : v_(std::move(d)) {}

    bool is_int() const { return std::holds_alternative<std::int64_t>(v_); }
    bool is_string() const { return std::holds_alternative<std::string>(v_); }
    bool is_list() const { return std::holds_alternative<list>(v_); }
    bool is_dict() const { return std::holds_alternative<dict>(v_); }

    // Accessors return nullptr when the value has another type, so callers that parse
    // untrusted input check types without exceptions.
    const std::int64_t* as_int() const { return std::get_if<std::int64_t>(&v_); }
    const std::string* as_string() const { return std::get_if<std::string>(&v_); }
    const list* as_list() const { return std::get_if<list>(&v_); }
    const dict* as_dict() const { return std::get_if<dict>(&v_); }
    list* as_list() { return std::get_if<list>(&v_); }
    dict* as_dict() { return std::get_if<dict>(&v_); }

    friend bool operator==(const value&, const value&) = default;

private:
    std::variant<std::int64_t, std::string, list, dict> v_;
};

// Typed lookups in a dictionary: nullptr when absent or of another type.
const std::string* find_string(const dict& d, std::string_view key);
const std::int64_t* find_int(const dict& d, std::string_view key);
const dict* find_dict(const dict& d, std::string_view key);
const list* find_list(const dict& d, std::string_view key);

} // namespace ovl::bencode

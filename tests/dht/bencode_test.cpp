#include "dht/bencode/decode.hpp"
#include "dht/bencode/encode.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace ovl::bencode;

namespace {
std::span<const std::uint8_t> as_bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string as_string(const std::vector<std::uint8_t>& v) { return {v.begin(), v.end()}; }
} // namespace

TEST_CASE("bencode round-trips and encodes canonically", "[bencode]") {
    value v(dict{{"b", list{value(1), value("xy")}}, {"a", value(-42)}, {"c", dict{}}});
    auto encoded = as_string(encode(v));
    CHECK(encoded == "d1:ai-42e1:bli1e2:xye1:cdee");
    auto back = decode(as_bytes(encoded));
    REQUIRE(back);
    CHECK(*back == v);
}

TEST_CASE("bencode decoding rejects malformed input with a reason", "[bencode]") {
    for (std::string bad : {"", "d", "i12", "5:abc", "l", "d1:a", "x", "di1ei2ee"}) {
        INFO(bad);
        std::string why;
        auto v = decode(as_bytes(bad), &why);
        CHECK_FALSE(v);
        CHECK_FALSE(why.empty());
    }
}

TEST_CASE("bencode decoding bounds depth, tokens and size", "[bencode]") {
    std::string deep(10000, 'l');
    deep += std::string(10000, 'e');
    CHECK_FALSE(decode(as_bytes(deep)));

    std::string many = "l";
    for (int i = 0; i < 3000; ++i) many += "i1e";
    many += "e";
    CHECK_FALSE(decode(as_bytes(many)));

    std::string huge = "100000:" + std::string(100000, 'x');
    std::string why;
    CHECK_FALSE(decode(as_bytes(huge), &why));
    CHECK(why == "input too large");
}

TEST_CASE("typed lookups return null on wrong types", "[bencode]") {
    dict d{{"s", value("x")}, {"i", value(7)}};
    CHECK(find_string(d, "s"));
    CHECK_FALSE(find_string(d, "i"));
    CHECK(find_int(d, "i"));
    CHECK_FALSE(find_int(d, "missing"));
    CHECK_FALSE(find_dict(d, "s"));
}

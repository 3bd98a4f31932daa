#include "dht/krpc/codec.hpp"
#include "dht/krpc/compact.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace ovl;
using namespace ovl::krpc;

namespace {
decode_result decode_text(const std::string& s) {
    return decode({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}
std::string as_string(const std::vector<std::uint8_t>& v) { return {v.begin(), v.end()}; }
} // namespace

TEST_CASE("BEP 5 example ping query decodes", "[krpc]") {
    auto r = decode_text("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe");
    auto* m = std::get_if<message>(&r);
    REQUIRE(m);
    CHECK(m->kind == message_kind::query);
    CHECK(m->method == "ping");
    CHECK(m->transaction_id == "aa");
    CHECK(*bencode::find_string(m->body, "id") == "abcdefghij0123456789");
}

TEST_CASE("responses carry the observed address (BEP 42 ip)", "[krpc]") {
    auto resp = message::response("xy", {{"id", std::string(20, 'z')}});
    resp.observed = endpoint::parse("198.51.100.4:51413");
    resp.version = "OV\x00\x01";
    auto bytes = encode(resp);
    auto r = decode({bytes.data(), bytes.size()});
    auto* m = std::get_if<message>(&r);
    REQUIRE(m);
    CHECK(m->kind == message_kind::response);
    REQUIRE(m->observed);
    CHECK(m->observed->to_string() == "198.51.100.4:51413");
}

TEST_CASE("errors encode as BEP 5 lists", "[krpc]") {
    auto bytes = as_string(encode(message::error("aa", generic_error, "A Generic Error Ocurred")));
    CHECK(bytes == "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee");
    auto r = decode_text(bytes);
    auto* m = std::get_if<message>(&r);
    REQUIRE(m);
    CHECK(m->error_code == 201);
    CHECK(m->error_message == "A Generic Error Ocurred");
}

TEST_CASE("queries with readable ids but bad shape get a protocol error reply", "[krpc]") {
    for (std::string bad : {"d1:t2:aa1:y1:qe", "d1:a3:abc1:q4:ping1:t2:aa1:y1:qe", "d1:ade1:qi5e1:t2:aa1:y1:qe"}) {
        INFO(bad);
        auto r = decode_text(bad);
        auto* f = std::get_if<decode_failure>(&r);
        REQUIRE(f);
        REQUIRE(f->error_reply);
        CHECK(f->error_reply->error_code == protocol_error);
        CHECK(f->error_reply->transaction_id == "aa");
    }
}

TEST_CASE("unreadable datagrams are dropped without a reply", "[krpc]") {
    for (std::string bad : {"", "garbage", "le", "d1:y1:qe", "d1:t2:aa1:y1:re", "d1:t2:aa1:y1:ze", "d1:ti5e1:y1:qe",
                            "d1:t17:aaaaaaaaaaaaaaaaa1:y1:qe"}) {
        INFO(bad);
        auto r = decode_text(bad);
        auto* f = std::get_if<decode_failure>(&r);
        REQUIRE(f);
        CHECK_FALSE(f->error_reply);
    }
}

TEST_CASE("compact endpoints are 6 bytes for IPv4 and 18 for IPv6", "[krpc]") {
    auto v4 = *endpoint::parse("192.0.2.1:6881");
    CHECK(compact_endpoint(v4).size() == 6);
    CHECK(parse_compact_endpoint(compact_endpoint(v4)) == v4);
    auto v6 = *endpoint::parse("[2001:db8::2]:1");
    CHECK(compact_endpoint(v6).size() == 18);
    CHECK(parse_compact_endpoint(compact_endpoint(v6)) == v6);
    CHECK_FALSE(parse_compact_endpoint("12345"));
}

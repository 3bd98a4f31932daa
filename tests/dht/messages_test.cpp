// BEP 32 on the wire: "nodes6", "want", IPv6 "values", and the fast-path encoder
// agreeing byte for byte with the general one for IPv6 replies.
#include "dht/bencode/decode.hpp"
#include "dht/krpc/codec.hpp"
#include "dht/messages.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::dht;

namespace {
endpoint ep(const char* text) { return *endpoint::parse(text); }
node_id id_of(char c) { return *node_id::from_bytes(std::string(20, c)); }
std::span<const std::uint8_t> span_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
} // namespace

TEST_CASE("nodes6 carries 38-byte IPv6 node infos and nodes only IPv4 ones", "[messages]") {
    const std::vector<contact> mixed = {{id_of('a'), ep("192.0.2.1:6881")},
                                        {id_of('b'), ep("[2001:db8::1]:6881")},
                                        {id_of('c'), ep("[2001:db8::2]:51413")}};
    const auto v4 = encode_nodes(mixed);
    const auto v6 = encode_nodes6(mixed);
    CHECK(v4.size() == 26);
    CHECK(v6.size() == 2 * 38);
    const bencode::dict body{{"nodes", v4}, {"nodes6", v6}};
    const auto got4 = decode_nodes(body);
    const auto got6 = decode_nodes6(body);
    REQUIRE(got4.size() == 1);
    CHECK(got4[0].ep == mixed[0].ep);
    REQUIRE(got6.size() == 2);
    CHECK(got6[0].id == id_of('b'));
    CHECK(got6[0].ep == mixed[1].ep);
    CHECK(got6[1].ep == mixed[2].ep);
}

TEST_CASE("a nodes6 that is not a whole number of entries is ignored whole", "[messages]") {
    const auto good = encode_nodes6({{id_of('b'), ep("[2001:db8::1]:6881")}});
    for (std::size_t len : {std::size_t{1}, std::size_t{26}, std::size_t{37}, std::size_t{39}, std::size_t{78}}) {
        INFO(len);
        std::string bad = good + good + good;
        bad.resize(len);
        CHECK(decode_nodes6({{"nodes6", bad}}).empty());
    }
    CHECK(decode_nodes6({{"nodes6", std::int64_t{38}}}).empty());
    CHECK(decode_nodes6({{"nodes6", good + good}}).size() == 2);
}

TEST_CASE("IPv6 node infos and peers at addresses we must never send to are dropped", "[messages]") {
    const std::vector<const char*> bad = {"[::ffff:192.0.2.1]:6881", "[fe80::1]:6881", "[fd00::1]:6881",
                                          "[ff02::1]:6881",          "[::]:6881",      "[::192.0.2.1]:6881",
                                          "[2001:db8::1]:0"};
    for (const auto* text : bad) {
        INFO(text);
        const auto e = ep(text);
        CHECK(decode_nodes6({{"nodes6", encode_nodes6({{id_of('z'), e}})}}).empty());
        CHECK(decode_values({{"values", encode_values({e})}}).empty());
    }
    // Global and loopback (for local tests) addresses pass.
    for (const auto* text : {"[2001:db8::7]:1", "[2a01:4f8::1]:1", "[::1]:1"})
        CHECK(decode_values({{"values", encode_values({ep(text)})}}).size() == 1);
}

TEST_CASE("want: the querier's own family unless it names others", "[messages]") {
    const auto v4 = ep("192.0.2.1:1").address;
    const auto v6 = ep("[2001:db8::1]:1").address;
    auto families = [](const bencode::dict& a, const ip_address& from) { return read_want(a, from); };
    CHECK(families({}, v4) == address_families{true, false});
    CHECK(families({}, v6) == address_families{false, true});
    CHECK(families({{"want", bencode::list{bencode::value("n6")}}}, v4) == address_families{false, true});
    CHECK(families({{"want", want_both()}}, v6) == address_families{true, true});
    // Not a list, or naming nothing we know: as if absent.
    CHECK(families({{"want", "n4n6"}}, v6) == address_families{false, true});
    CHECK(families({{"want", bencode::list{bencode::value("n5"), bencode::value(std::int64_t{4})}}}, v4) ==
          address_families{true, false});
}

TEST_CASE("the fast path reads want and encodes nodes6 and IPv6 values as the general encoder does",
          "[messages][krpc]") {
    const std::string query = "d1:ad2:id20:" + std::string(20, 'q') + "9:info_hash20:" + std::string(20, 'h') +
                              "4:wantl2:n42:n6ee1:q9:get_peers1:t2:aa1:y1:qe";
    bencode::flat_reader reader;
    REQUIRE(reader.parse(span_of(query)));
    const auto header = krpc::read_query_header(reader);
    REQUIRE(header);
    const auto q = krpc::read_simple_query(reader, *header);
    REQUIRE(q);
    CHECK(q->want_n4);
    CHECK(q->want_n6);

    const auto nodes = encode_nodes({{id_of('a'), ep("192.0.2.1:6881")}});
    const auto nodes6 = encode_nodes6({{id_of('b'), ep("[2001:db8::1]:6881")}});
    const std::vector<endpoint> peers = {ep("[2001:db8::5]:51413"), ep("[2001:db8:1::9]:6881")};
    const auto self = id_of('s').to_bytes();
    krpc::simple_response r;
    r.transaction_id = "aa";
    r.observed = ep("[2001:db8::99]:4000");
    r.id = self;
    r.nodes = nodes;
    r.nodes6 = nodes6;
    r.token = "tok";
    r.values = peers;
    r.version = "OV01";
    std::vector<std::uint8_t> fast;
    krpc::encode_simple_response(r, fast);

    auto slow = krpc::message::response("aa", {{"id", self}, {"nodes", nodes}, {"nodes6", nodes6}, {"token", "tok"},
                                               {"values", encode_values(peers)}});
    slow.observed = r.observed;
    slow.version = "OV01";
    CHECK(fast == krpc::encode(slow));
}

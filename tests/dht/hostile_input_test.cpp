// Hostile and malformed KRPC input against a whole node: every datagram gets either a
// KRPC error or nothing, the node never crashes, and its memory stays bounded. Run under
// the sanitizer build (scripts/test does) this also proves the absence of leaks.
#include "direct_wire.hpp"

#include "dht/krpc/codec.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::dht;

namespace {
bytes text(const std::string& s) { return {s.begin(), s.end()}; }

struct verdict {
    int dropped = 0;
    int errors = 0;
    int responses = 0;
};

verdict feed(node& n, timestamp now, const bytes& datagram) {
    verdict v;
    n.on_datagram(now, *endpoint::parse("203.0.113.5:4000"), datagram);
    bool any = false;
    while (auto out = n.poll_transmit()) {
        any = true;
        auto r = krpc::decode(out->payload);
        auto* m = std::get_if<krpc::message>(&r);
        REQUIRE(m);
        if (m->kind == krpc::message_kind::error) ++v.errors;
        if (m->kind == krpc::message_kind::response) ++v.responses;
    }
    if (!any) ++v.dropped;
    return v;
}

const std::string good_id = "d2:id20:" + std::string(20, 'x');
} // namespace

TEST_CASE("malformed datagrams are dropped without reply", "[hostile]") {
    test::direct_wire wire;
    auto& n = wire.add(*endpoint::parse("192.0.2.1:6881"));
    std::vector<std::string> inputs = {
        "", "d", "de", "le", "i1e", "garbage\xff\xfe", "d1:t2:aa1:y1:r1:rlee",
        std::string(10000, 'l') + std::string(10000, 'e'),
        "d1:t2:aa1:y1:q1:q4:ping1:a" + std::string(5000, 'l') + std::string(5000, 'e') + "e",
        "d1:t2:aa1:y1:qe" + std::string(9000, 'x'),
        "d1:t" + std::to_string(1u << 30) + ":aa1:y1:qe",
    };
    for (const auto& in : inputs) {
        INFO(in.substr(0, 40));
        auto v = feed(n, wire.now, text(in));
        CHECK(v.responses == 0);
        CHECK(v.errors == 0);
    }
}

TEST_CASE("readable queries with wrong-typed or missing fields get KRPC errors", "[hostile]") {
    test::direct_wire wire;
    auto& n = wire.add(*endpoint::parse("192.0.2.1:6881"));
    std::vector<std::string> inputs = {
        "d1:ad2:idi5ee1:q4:ping1:t2:aa1:y1:qe",                          // id is an integer
        "d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe",                        // id too short
        "d1:a" + good_id + "e1:q9:find_node1:t2:aa1:y1:qe",              // no target
        "d1:a" + good_id + "6:target3:abce1:q9:find_node1:t2:aa1:y1:qe", // short target
        "d1:a" + good_id + "9:info_hashi1ee1:q9:get_peers1:t2:aa1:y1:qe",
        "d1:a" + good_id + "9:info_hash20:" + std::string(20, 'i') + "4:porti99999e5:token8:abcdefghe1:q13:announce_peer1:t2:aa1:y1:qe",
        "d1:a" + good_id + "9:info_hash20:" + std::string(20, 'i') + "4:porti80e5:token8:abcdefghe1:q13:announce_peer1:t2:aa1:y1:qe",
        "d1:a" + good_id + "9:info_hash20:" + std::string(20, 'i') + "4:porti80ee1:q13:announce_peer1:t2:aa1:y1:qe",
        "d1:ali1ee1:q4:ping1:t2:aa1:y1:qe",                               // args not a dict
        "d1:a" + good_id + "e1:q5:bogus1:t2:aa1:y1:qe",                   // unknown method
    };
    for (const auto& in : inputs) {
        INFO(in);
        auto v = feed(n, wire.now, text(in));
        CHECK(v.errors == 1);
        CHECK(v.responses == 0);
    }
    CHECK(n.storage().peer_count() == 0);
}

TEST_CASE("random and mutated datagrams never crash the node or grow it", "[hostile]") {
    test::direct_wire wire;
    auto& n = wire.add(*endpoint::parse("192.0.2.1:6881"));
    random_source rng(4242);
    const std::vector<std::string> seeds = {
        "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
        "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
        "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
        "d1:rd2:id20:mnopqrstuvwxyz1234565:nodes9:def456...e1:t2:aa1:y1:re",
    };
    for (int i = 0; i < 20000; ++i) {
        auto in = text(seeds[rng.uniform(seeds.size())]);
        const auto mutations = 1 + rng.uniform(6);
        for (std::uint64_t m = 0; m < mutations; ++m) {
            switch (rng.uniform(3)) {
            case 0: in[rng.uniform(in.size())] = static_cast<std::uint8_t>(rng.next_u64()); break;
            case 1: in.resize(rng.uniform(in.size() + 1)); break;
            default: in.insert(in.begin() + static_cast<std::ptrdiff_t>(rng.uniform(in.size() + 1)), static_cast<std::uint8_t>(rng.next_u64())); break;
            }
            if (in.empty()) in.push_back('d');
        }
        n.on_datagram(wire.now, endpoint{ip_address::v4(0xCB007100u + static_cast<std::uint32_t>(i % 200)), 4000}, in);
        while (n.poll_transmit()) {
        }
    }
    CHECK(n.stats().datagrams_in == 20000);
    CHECK(n.table().size() == 0);
    CHECK(n.storage().peer_count() == 0);
}

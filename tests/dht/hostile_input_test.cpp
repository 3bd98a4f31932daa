// Hostile and malformed KRPC input against a whole node: every datagram gets either a
// KRPC error or nothing, the node never crashes, and its memory stays bounded. Run under
// the sanitizer build (scripts/test does) this also proves the absence of leaks.
#include "direct_wire.hpp"

#include "dht/krpc/codec.hpp"

#include <catch2/catch.hpp>

#include <set>

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
        "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:wantl2:n42:n6ee1:q9:find_node1:t2:aa1:y1:qe",
        "d1:rd2:id20:mnopqrstuvwxyz1234566:nodes638:abcdefghij0123456789" + std::string("\x20\x01\x0d\xb8", 4) +
            std::string(11, '\0') + "\x01\x1a\xe1" + "e1:t2:aa1:y1:re",
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
        const auto host = static_cast<std::uint8_t>(i % 200);
        const endpoint from = i % 2 ? endpoint{ip_address::v4(0xCB007100u + host), 4000}
                                    : endpoint{ip_address::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, host}), 4000};
        n.on_datagram(wire.now, from, in);
        while (n.poll_transmit()) {
        }
    }
    CHECK(n.stats().datagrams_in == 20000);
    CHECK(n.table().size() == 0);
    CHECK(n.table6().size() == 0);
    CHECK(n.storage().peer_count() == 0);
}

TEST_CASE("hostile IPv6 node infos and peers in replies never become targets", "[hostile]") {
    test::direct_wire wire;
    node_config config;
    config.families = {true, true};
    const auto liar = *endpoint::parse("[2001:db8::66]:6881");
    config.bootstrap = {liar};
    auto& n = wire.add({*endpoint::parse("192.0.2.1:6881"), *endpoint::parse("[2001:db8::1]:6881")}, config);

    auto compact6 = [](const char* text) {
        const auto ep = *endpoint::parse(text);
        return std::string(20, 'n') + std::string(reinterpret_cast<const char*>(ep.address.data()), 16) +
               static_cast<char>(ep.port >> 8) + static_cast<char>(ep.port & 0xff);
    };
    const char* bad[] = {"[::ffff:198.51.100.1]:6881", "[fe80::1]:6881", "[fd00::1]:6881", "[ff02::1]:6881",
                         "[::]:6881",                  "[::1]:6881"};
    // One good entry among them shows the rest are refused, not the whole reply.
    const auto good = *endpoint::parse("[2001:db8::77]:6881");
    std::string nodes6 = compact6("[2001:db8::77]:6881");
    for (const auto* b : bad) nodes6 += compact6(b);
    std::string values;
    for (const auto* b : bad) values += "18:" + compact6(b).substr(20);
    // Misaligned: 26-byte IPv4 node infos under the IPv6 key.
    const std::string misaligned = std::string(20, 'm') + "\xc6\x33\x64\x09\x1a\xe1" + std::string(20, 'o') +
                                   "\xc6\x33\x64\x0a\x1a\xe1" + std::string(20, 'p') + "\xc6\x33\x64\x0b\x1a\xe1";

    // Two lookups, both through the liar: one reply with bad addresses, one misaligned.
    std::vector<lookup_result> results;
    for (char target : {'h', 'g'})
        n.get_peers(wire.now, *node_id::from_bytes(std::string(20, target)),
                    [&](timestamp, const lookup_result& r) { results.push_back(r); });
    std::vector<std::string> tids;
    while (auto q = n.poll_transmit()) {
        REQUIRE(q->to == liar);
        tids.push_back(std::get<krpc::message>(krpc::decode(q->payload)).transaction_id);
    }
    REQUIRE(tids.size() == 2);
    const std::string bodies[] = {"6:nodes6" + std::to_string(nodes6.size()) + ":" + nodes6,
                                  "6:nodes6" + std::to_string(misaligned.size()) + ":" + misaligned};
    std::set<endpoint> targets;
    for (std::size_t i = 0; i < 2; ++i) {
        const auto reply = "d1:rd2:id20:" + std::string(20, 'L') + bodies[i] + "5:token2:tk6:valuesl" + values +
                           "ee1:t" + std::to_string(tids[i].size()) + ":" + tids[i] + "1:y1:re";
        n.on_datagram(wire.now, liar, text(reply));
        while (auto out = n.poll_transmit()) targets.insert(out->to);
    }
    CHECK(targets == std::set<endpoint>{good});
    wire.advance(std::chrono::seconds(5));
    REQUIRE(results.size() == 2);
    for (const auto& r : results) {
        CHECK(r.responses == 1);
        CHECK(r.peers.empty());
    }
    CHECK(n.table6().size() == 1);
}

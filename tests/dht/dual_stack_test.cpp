// BEP 32 end to end on directly wired nodes: IPv4-only, IPv6-only and dual-stack nodes
// share one id space but two DHTs; replies carry the families asked for and no other.
#include "direct_wire.hpp"

#include "dht/krpc/codec.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

using namespace ovl;
using namespace ovl::dht;
using namespace std::chrono_literals;

namespace {
endpoint v4(int i) { return endpoint{ip_address::v4(0xC0000200u + static_cast<std::uint32_t>(i)), 6881}; }
endpoint v6(int i) {
    std::array<std::uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8};
    a[14] = static_cast<std::uint8_t>(i >> 8);
    a[15] = static_cast<std::uint8_t>(i);
    return endpoint{ip_address::v6(a), 6881};
}

std::optional<krpc::message> decode_bytes(const bytes& b) {
    auto r = krpc::decode(b);
    if (auto* m = std::get_if<krpc::message>(&r)) return *m;
    return std::nullopt;
}

bytes text(const std::string& s) { return {s.begin(), s.end()}; }

// The reply `n` sends to one query from `from`.
krpc::message ask(node& n, timestamp now, const endpoint& from, const std::string& query) {
    n.on_datagram(now, from, text(query));
    auto out = n.poll_transmit();
    REQUIRE(out);
    CHECK(out->to == from);
    auto m = decode_bytes(out->payload);
    REQUIRE(m);
    while (n.poll_transmit()) {
    }
    return *m;
}

const std::string querier_id = std::string(20, 'Q');
std::string find_node_query(const std::string& extra_args = "") {
    return "d1:ad2:id20:" + querier_id + "6:target20:" + std::string(20, 'T') + extra_args +
           "e1:q9:find_node1:t2:aa1:y1:qe";
}

struct dual_wire {
    test::direct_wire wire;
    node* hub = nullptr;

    // A dual-stack hub that knows `count` IPv4 and `count` IPv6 nodes.
    explicit dual_wire(int count) {
        node_config dual;
        dual.families = {true, true};
        hub = &wire.add({v4(1), v6(1)}, dual);
        for (int i = 0; i < count; ++i) {
            node_config c4;
            c4.bootstrap = {v4(1)};
            wire.add(v4(100 + i), c4).bootstrap(wire.now);
            node_config c6;
            c6.families = {false, true};
            c6.bootstrap = {v6(1)};
            wire.add(v6(100 + i), c6).bootstrap(wire.now);
            wire.pump();
        }
    }
};
} // namespace

TEST_CASE("a dual-stack node keeps one routing table per family", "[dual_stack]") {
    dual_wire d(12);
    CHECK(d.hub->table().size() >= 8);
    CHECK(d.hub->table6().size() >= 8);
    for (const auto& e : d.hub->table().all_nodes()) CHECK(e.ep.address.is_v4());
    for (const auto& e : d.hub->table6().all_nodes()) CHECK(e.ep.address.is_v6());
}

TEST_CASE("replies carry the querier's own family unless it asks for others (fast and general path)",
          "[dual_stack]") {
    dual_wire d(12);
    auto& hub = *d.hub;
    const auto from4 = *endpoint::parse("198.51.100.7:4000");
    const auto from6 = *endpoint::parse("[2001:db8:ffff::7]:4000");
    for (bool general : {false, true}) {
        INFO((general ? "general path" : "fast path"));
        // A response hook sends find_node through the general path.
        if (general) hub.add_response_hook("find_node", [](timestamp, const endpoint&, const krpc::message&, bencode::dict&) {});
        auto keys = [&](const endpoint& from, const std::string& extra) {
            const auto reply = ask(hub, d.wire.now, from, find_node_query(extra));
            std::set<std::string> out;
            for (const char* key : {"nodes", "nodes6"}) {
                if (const auto* s = bencode::find_string(reply.body, key)) {
                    CHECK(s->size() == 8 * (std::string(key) == "nodes" ? 26u : 38u));
                    out.insert(key);
                }
            }
            return out;
        };
        using set = std::set<std::string>;
        CHECK(keys(from4, "") == set{"nodes"});
        CHECK(keys(from6, "") == set{"nodes6"});
        CHECK(keys(from4, "4:wantl2:n6e") == set{"nodes6"});
        CHECK(keys(from6, "4:wantl2:n42:n6e") == set{"nodes", "nodes6"});
        CHECK(keys(from4, "4:wanti1e") == set{"nodes"});
        CHECK(keys(from6, "4:wantl2:xxe") == set{"nodes6"});
    }
}

TEST_CASE("an IPv6 announce stores an IPv6 peer, handed only to IPv6 queriers", "[dual_stack]") {
    dual_wire d(4);
    auto& hub = *d.hub;
    const auto from6 = *endpoint::parse("[2001:db8:ffff::7]:4000");
    const auto from4 = *endpoint::parse("198.51.100.7:4000");
    const std::string ih(20, 'I');
    const std::string get_peers = "d1:ad2:id20:" + querier_id + "9:info_hash20:" + ih + "e1:q9:get_peers1:t2:aa1:y1:qe";
    const auto first = ask(hub, d.wire.now, from6, get_peers);
    const auto* token = bencode::find_string(first.body, "token");
    REQUIRE(token);
    const auto ack = ask(hub, d.wire.now, from6,
                         "d1:ad2:id20:" + querier_id + "9:info_hash20:" + ih + "4:porti51413e5:token" +
                             std::to_string(token->size()) + ":" + *token + "e1:q13:announce_peer1:t2:bb1:y1:qe");
    CHECK(ack.kind == krpc::message_kind::response);

    const auto peers6 = decode_values(ask(hub, d.wire.now, from6, get_peers).body);
    REQUIRE(peers6.size() == 1);
    CHECK(peers6[0] == *endpoint::parse("[2001:db8:ffff::7]:51413"));
    CHECK(bencode::find_list(ask(hub, d.wire.now, from4, get_peers).body, "values") == nullptr);
}

TEST_CASE("IPv4-only, IPv6-only and dual-stack nodes find each other and each other's peers", "[dual_stack]") {
    test::direct_wire wire;
    node_config dual;
    dual.families = {true, true};
    wire.add({v4(1), v6(1)}, dual);
    std::vector<node*> only4, only6, duals;
    std::set<endpoint> single_family_eps;
    for (int i = 0; i < 15; ++i) {
        node_config c6;
        c6.families = {false, true};
        c6.bootstrap = {v6(1)};
        only6.push_back(&wire.add(v6(100 + i), c6));
        single_family_eps.insert(v6(100 + i));
        only6.back()->bootstrap(wire.now);
        wire.pump();
        node_config c4;
        c4.bootstrap = {v4(1)};
        only4.push_back(&wire.add(v4(100 + i), c4));
        single_family_eps.insert(v4(100 + i));
        only4.back()->bootstrap(wire.now);
        wire.pump();
    }
    // Dual-stack nodes that only know an IPv4 bootstrap node learn the IPv6 DHT through
    // "want" and "nodes6".
    for (int i = 0; i < 10; ++i) {
        node_config c = dual;
        c.bootstrap = {v4(1)};
        duals.push_back(&wire.add({v4(200 + i), v6(200 + i)}, c));
        duals.back()->bootstrap(wire.now);
        wire.pump();
    }
    wire.advance(10s);

    for (auto* n : only6) {
        CHECK(n->table6().size() >= 8);
        CHECK(n->table().size() == 0);
    }
    for (auto* n : only4) CHECK(n->table6().size() == 0);
    for (auto* n : duals) {
        CHECK(n->table().size() >= 8);
        CHECK(n->table6().size() >= 8);
    }

    // An IPv6-only node finds a dual-stack node by id over IPv6.
    std::optional<lookup_result> found;
    only6[3]->find_node(wire.now, duals[4]->id(), [&](timestamp, const lookup_result& r) { found = r; });
    wire.pump();
    REQUIRE(found);
    REQUIRE_FALSE(found->closest.empty());
    CHECK(found->closest.front().id == duals[4]->id());
    CHECK(found->closest.front().ep == v6(204));

    // A dual-stack lookup ends on the k closest of each family.
    std::optional<lookup_result> both;
    duals[0]->find_node(wire.now, only4[7]->id(), [&](timestamp, const lookup_result& r) { both = r; });
    wire.pump();
    REQUIRE(both);
    const auto count6 = std::count_if(both->closest.begin(), both->closest.end(),
                                      [](const contact& c) { return c.ep.address.is_v6(); });
    CHECK(count6 == 8);
    CHECK(both->closest.size() == 16);
    CHECK(both->closest.front().id == only4[7]->id());

    // An IPv6-only seeder's announce reaches dual-stack leechers; a dual-stack seeder's
    // reaches everyone, in the leecher's family.
    random_source rng(5);
    const auto ih6 = node_id::random(rng);
    const auto ih_dual = node_id::random(rng);
    std::optional<announce_result> a6, a_dual;
    only6[9]->announce(wire.now, ih6, 51413, false, [&](timestamp, const announce_result& r) { a6 = r; });
    duals[7]->announce(wire.now, ih_dual, 6881, false, [&](timestamp, const announce_result& r) { a_dual = r; });
    wire.pump();
    REQUIRE(a6);
    REQUIRE(a_dual);
    CHECK(a6->stored_at >= 7);
    CHECK(a_dual->stored_at >= 14);

    auto peers_of = [&](node& n, const node_id& ih) {
        std::optional<lookup_result> r;
        n.get_peers(wire.now, ih, [&](timestamp, const lookup_result& res) { r = res; });
        wire.pump();
        REQUIRE(r);
        return r->peers;
    };
    using peers = std::vector<endpoint>;
    CHECK(peers_of(*duals[2], ih6) == peers{endpoint{v6(109).address, 51413}});
    CHECK(peers_of(*only4[2], ih6).empty());
    CHECK(peers_of(*only6[2], ih6) == peers{endpoint{v6(109).address, 51413}});
    CHECK(peers_of(*only4[5], ih_dual) == peers{endpoint{v4(207).address, 6881}});
    CHECK(peers_of(*only6[5], ih_dual) == peers{endpoint{v6(207).address, 6881}});
    auto from_dual = peers_of(*duals[5], ih_dual);
    std::sort(from_dual.begin(), from_dual.end());
    CHECK(from_dual == peers{endpoint{v4(207).address, 6881}, endpoint{v6(207).address, 6881}});

    // No single-family node ever got a reply naming the other family's nodes, and nothing
    // crossed families on the wire.
    std::size_t replies = 0;
    for (const auto& d : wire.sent) {
        CHECK(d.from.address.family() == d.to.address.family());
        if (!single_family_eps.contains(d.to)) continue;
        const auto m = decode_bytes(d.payload);
        REQUIRE(m);
        if (m->kind != krpc::message_kind::response) continue;
        ++replies;
        const char* other = d.to.address.is_v4() ? "nodes6" : "nodes";
        CHECK(m->body.find(other) == m->body.end());
    }
    CHECK(replies > 300);
}

TEST_CASE("the fast path answers byte for byte as the general path, for both families and any want",
          "[dual_stack]") {
    // Two identical hubs (same seeds, same history); a response hook sends the second
    // through the general path.
    dual_wire fast(10), general(10);
    const auto noop = [](timestamp, const endpoint&, const krpc::message&, bencode::dict&) {};
    general.hub->add_response_hook("find_node", noop);
    general.hub->add_response_hook("get_peers", noop);
    const std::string ih(20, 'I');
    std::vector<std::string> queries;
    for (const std::string want : {"", "4:wantl2:n4e", "4:wantl2:n6e", "4:wantl2:n62:n4e", "4:wantle"}) {
        queries.push_back(find_node_query(want));
        queries.push_back("d1:ad2:id20:" + querier_id + "9:info_hash20:" + ih + want +
                          "e1:q9:get_peers1:t3:abc1:v4:LT\x01\x02" "1:y1:qe");
    }
    std::size_t compared = 0;
    for (const char* from_text : {"198.51.100.7:4000", "[2001:db8:ffff::7]:4000"}) {
        const auto from = *endpoint::parse(from_text);
        // Peers of both families stored under ih, announced through each hub alike.
        for (auto* hub : {fast.hub, general.hub}) {
            for (const char* peer : {"[2001:db8:aaaa::1]:1", "[2001:db8:aaaa::2]:2", "203.0.113.1:1"}) {
                const auto p = *endpoint::parse(peer);
                const std::string get = "d1:ad2:id20:" + querier_id + "9:info_hash20:" + ih + "e1:q9:get_peers1:t2:aa1:y1:qe";
                const auto token = *bencode::find_string(ask(*hub, fast.wire.now, p, get).body, "token");
                ask(*hub, fast.wire.now, p,
                    "d1:ad2:id20:" + querier_id + "12:implied_porti1e9:info_hash20:" + ih + "5:token" +
                        std::to_string(token.size()) + ":" + token + "e1:q13:announce_peer1:t2:bb1:y1:qe");
            }
        }
        for (const auto& q : queries) {
            INFO(from_text << " " << q);
            fast.hub->on_datagram(fast.wire.now, from, text(q));
            general.hub->on_datagram(general.wire.now, from, text(q));
            auto a = fast.hub->poll_transmit();
            auto b = general.hub->poll_transmit();
            REQUIRE(a);
            REQUIRE(b);
            CHECK(a->payload == b->payload);
            ++compared;
            while (fast.hub->poll_transmit() || general.hub->poll_transmit()) {
            }
        }
    }
    CHECK(compared == 20);
}

#include "direct_wire.hpp"

#include "dht/krpc/codec.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::dht;
using namespace std::chrono_literals;

namespace {
endpoint ep(int i) { return *endpoint::parse("192.0.2." + std::to_string(i) + ":6881"); }

std::optional<krpc::message> decode_bytes(const bytes& b) {
    auto r = krpc::decode(b);
    if (auto* m = std::get_if<krpc::message>(&r)) return *m;
    return std::nullopt;
}
} // namespace

TEST_CASE("a node bootstraps, finds nodes and learns its observed address", "[node]") {
    test::direct_wire wire;
    std::vector<node*> nodes;
    nodes.push_back(&wire.add(ep(1)));
    for (int i = 2; i <= 20; ++i) {
        node_config c;
        c.bootstrap = {ep(1)};
        nodes.push_back(&wire.add(ep(i), c));
    }
    std::vector<endpoint> observed;
    nodes[5]->set_observed_address_listener(
        [&](timestamp, const endpoint&, const node_id&, const endpoint& seen) { observed.push_back(seen); });
    for (std::size_t i = 1; i < nodes.size(); ++i) {
        nodes[i]->bootstrap(wire.now);
        wire.pump();
    }
    wire.advance(5s);
    for (auto* n : nodes) CHECK(n->table().size() >= 8);
    REQUIRE_FALSE(observed.empty());
    for (const auto& o : observed) CHECK(o == ep(6));

    // find_node for an existing node's id ends on that node.
    std::optional<lookup_result> result;
    nodes[3]->find_node(wire.now, nodes[17]->id(), [&](timestamp, const lookup_result& r) { result = r; });
    wire.pump();
    REQUIRE(result);
    REQUIRE_FALSE(result->closest.empty());
    CHECK(result->closest.front().id == nodes[17]->id());
    CHECK(result->closest.front().ep == ep(18));
}

TEST_CASE("announce then get_peers finds the peer, with implied_port", "[node]") {
    test::direct_wire wire;
    std::vector<node*> nodes;
    nodes.push_back(&wire.add(ep(1)));
    for (int i = 2; i <= 12; ++i) {
        node_config c;
        c.bootstrap = {ep(1)};
        nodes.push_back(&wire.add(ep(i), c));
        nodes.back()->bootstrap(wire.now);
        wire.pump();
    }
    random_source rng(99);
    auto ih = node_id::random(rng);
    std::optional<announce_result> announced;
    nodes[2]->announce(wire.now, ih, 51413, false, [&](timestamp, const announce_result& r) { announced = r; });
    wire.pump();
    REQUIRE(announced);
    CHECK(announced->stored_at >= 7);

    std::optional<announce_result> implied;
    nodes[4]->announce(wire.now, ih, 1, true, [&](timestamp, const announce_result& r) { implied = r; });
    wire.pump();
    REQUIRE(implied);

    std::optional<lookup_result> found;
    nodes[9]->get_peers(wire.now, ih, [&](timestamp, const lookup_result& r) { found = r; });
    wire.pump();
    REQUIRE(found);
    auto has = [&](const endpoint& e) { return std::find(found->peers.begin(), found->peers.end(), e) != found->peers.end(); };
    CHECK(has(endpoint{ep(3).address, 51413}));
    // implied_port: the UDP source port, not the port argument.
    CHECK(has(ep(5)));
    CHECK_FALSE(has(endpoint{ep(5).address, 1}));
}

TEST_CASE("every response and error carries the requester's observed address", "[node]") {
    test::direct_wire wire;
    auto& n = wire.add(ep(1));
    auto requester = ep(2);
    auto query = krpc::message::query("q1", "ping", {{"id", std::string(20, 'a')}});
    n.on_datagram(wire.now, requester, krpc::encode(query));
    auto reply = n.poll_transmit();
    REQUIRE(reply);
    CHECK(reply->to == requester);
    auto m = decode_bytes(reply->payload);
    REQUIRE(m);
    CHECK(m->kind == krpc::message_kind::response);
    REQUIRE(m->observed);
    CHECK(*m->observed == requester);
    CHECK(m->transaction_id == "q1");

    auto unknown = krpc::message::query("q2", "frobnicate", {{"id", std::string(20, 'a')}});
    n.on_datagram(wire.now, requester, krpc::encode(unknown));
    std::optional<krpc::message> err;
    while (auto d = n.poll_transmit()) {
        auto dm = decode_bytes(d->payload);
        if (dm && dm->transaction_id == "q2") err = dm;
    }
    REQUIRE(err);
    CHECK(err->kind == krpc::message_kind::error);
    CHECK(err->error_code == krpc::method_unknown);
    REQUIRE(err->observed);
}

TEST_CASE("extensions add query methods and response keys", "[node]") {
    test::direct_wire wire;
    auto& server = wire.add(ep(1));
    auto& client = wire.add(ep(2));
    server.register_query("echo_x", [](timestamp, const endpoint& from, const krpc::message& q) {
        const auto* x = bencode::find_string(q.body, "x");
        if (!x) return query_reply::error(krpc::protocol_error, "missing x");
        return query_reply::respond({{"x", *x}, {"from", from.to_string()}});
    });
    server.add_response_hook("ping", [](timestamp, const endpoint&, const krpc::message&, bencode::dict& r) {
        r.emplace("ext", "hello");
    });
    std::string echoed, hooked;
    client.send_query(wire.now, ep(1), "echo_x", {{"id", client.id().to_bytes()}, {"x", "42"}},
                      [&](timestamp, const krpc::query_outcome& o) {
                          if (o.reply) echoed = *bencode::find_string(o.reply->body, "x");
                      });
    client.send_query(wire.now, ep(1), "ping", ping_args(client.id()), [&](timestamp, const krpc::query_outcome& o) {
        if (o.reply) hooked = *bencode::find_string(o.reply->body, "ext");
    });
    wire.pump();
    CHECK(echoed == "42");
    CHECK(hooked == "hello");
}

TEST_CASE("announce with a bogus token is refused and stores nothing", "[node]") {
    test::direct_wire wire;
    auto& n = wire.add(ep(1));
    random_source rng(5);
    auto ih = node_id::random(rng);
    auto q = krpc::message::query("t1", "announce_peer", announce_args(node_id::random(rng), ih, 6881, false, "bogus!!!"));
    n.on_datagram(wire.now, ep(2), krpc::encode(q));
    auto reply = decode_bytes(n.poll_transmit()->payload);
    REQUIRE(reply);
    CHECK(reply->kind == krpc::message_kind::error);
    CHECK(reply->error_code == krpc::protocol_error);
    CHECK(n.storage().peer_count() == 0);
    CHECK(n.stats().announces_rejected_token == 1);
}

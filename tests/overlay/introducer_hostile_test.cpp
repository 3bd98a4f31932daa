// Hostile cases against one introducer (issue 4): forged registrations, introductions
// to unknown keys, introduction floods, and dial-back requests that try to aim probes
// at a third party. Queries are crafted by hand and fed to the node's packet entry.
#include "dht/base/log.hpp"
#include "dht/krpc/codec.hpp"
#include "dht/krpc/compact.hpp"
#include "dht/node.hpp"
#include "overlay/dht_id.hpp"
#include "overlay/dial_back_service.hpp"
#include "overlay/introducer_service.hpp"
#include "overlay/methods.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>

using namespace ovl;
using namespace ovl::overlay;
using namespace std::chrono_literals;

namespace {

struct bench {
    timestamp now{1000s};
    dht::node node;
    introducer_service service;
    std::vector<outgoing_datagram> raw;
    dial_back_service dial_back;

    bench()
        : node(dht::node_config{}, random_source(1), null_logger(), now),
          service(node, introducer_limits{}, relay_limits{}, 60s, node.rng(), null_logger(), now, [] { return true; }),
          dial_back(node, [this](outgoing_datagram d) { raw.push_back(std::move(d)); }, null_logger()) {}

    // Sends a query from `from`; returns the reply addressed back to it, if any.
    std::optional<krpc::message> ask(const endpoint& from, const std::string& method, bencode::dict args) {
        args.emplace("id", std::string(20, 'q'));
        node.on_datagram(now, from, krpc::encode(krpc::message::query("tx", method, std::move(args))));
        std::optional<krpc::message> reply;
        while (auto d = node.poll_transmit()) {
            auto r = krpc::decode(d->payload);
            auto* m = std::get_if<krpc::message>(&r);
            if (m && d->to == from && m->transaction_id == "tx") reply = *m;
            else sent_elsewhere.push_back(*d);
        }
        return reply;
    }
    std::vector<outgoing_datagram> sent_elsewhere;
};

std::string key_bytes(const identity& id) { return {id.public_key_bytes().begin(), id.public_key_bytes().end()}; }

// The token the introducer hands `who` for registering from `from`.
std::string registration_token(bench& b, const identity& who, const endpoint& from) {
    auto first = b.ask(from, method::register_peer, {{"k", key_bytes(who)}});
    REQUIRE(first);
    return *bencode::find_string(first->body, "tok");
}

// A signed ovl_register of `fields` with `token`; `forge` spoils the signature.
bencode::dict signed_registration(const bench& b, const identity& who, const std::string& token, bencode::dict fields,
                                  bool forge = false) {
    auto sig = who.sign(introducer_service::registration_message(b.node.id(), token, fields));
    if (forge) sig[0] ^= 1;
    fields.emplace("k", key_bytes(who));
    fields.emplace("tok", token);
    fields.emplace("sig", std::string(sig.begin(), sig.end()));
    return fields;
}

// Registers `who` from `from` with a valid token and signature.
std::optional<krpc::message> register_peer(bench& b, const identity& who, const endpoint& from, bool forge = false) {
    return b.ask(from, method::register_peer, signed_registration(b, who, registration_token(b, who, from), {}, forge));
}

std::optional<krpc::message> introduce(bench& b, const identity& requester, const identity& target, const endpoint& from) {
    bencode::dict args{{"k", key_bytes(requester)}, {"t", key_bytes(target)}, {"sid", std::string(8, 's')}};
    auto first = b.ask(from, method::introduce, args);
    if (!first || first->kind != krpc::message_kind::response) return first;
    const auto* tok = bencode::find_string(first->body, "tok");
    if (!tok) return first;
    args.emplace("tok", *tok);
    return b.ask(from, method::introduce, args);
}

} // namespace

TEST_CASE("a registration with a forged signature is rejected and stores nothing", "[overlay][hostile]") {
    bench b;
    random_source rng(5);
    auto victim = identity::generate(rng);
    auto reply = register_peer(b, victim, *endpoint::parse("203.0.113.7:5000"), true);
    REQUIRE(reply);
    CHECK(reply->kind == krpc::message_kind::error);
    CHECK(reply->error_message == "bad registration signature");
    CHECK(b.service.registrations().size() == 0);
    CHECK(b.service.stats().bad_signatures == 1);

    // A genuine registration works, and a token replayed from another IP does not.
    auto ok = register_peer(b, victim, *endpoint::parse("203.0.113.7:5000"));
    REQUIRE(ok);
    CHECK(ok->kind == krpc::message_kind::response);
    CHECK(b.service.registrations().size() == 1);
}

TEST_CASE("a keepalive repeating a verified registration is not verified again; any change is",
          "[overlay][hostile]") {
    bench b;
    random_source rng(8);
    auto peer = identity::generate(rng);
    const auto at = *endpoint::parse("203.0.113.7:5000");
    const auto token = registration_token(b, peer, at);
    auto signed_query = [&](bencode::dict fields, bool forge) { return signed_registration(b, peer, token, fields, forge); };
    const auto registration = signed_query({{"nat", "nat-cone"}}, false);
    auto kind = [&](const bencode::dict& q) { return b.ask(at, method::register_peer, q)->kind; };
    CHECK(kind(registration) == krpc::message_kind::response);
    CHECK(b.service.stats().signature_checks == 1);
    for (int i = 0; i < 3; ++i) CHECK(kind(registration) == krpc::message_kind::response);
    CHECK(b.service.stats().signature_checks == 1);

    // Other fields under the old signature, or a forged signature over the same fields.
    auto replayed = registration;
    replayed.insert_or_assign("nat", "nat-symmetric");
    CHECK(kind(replayed) == krpc::message_kind::error);
    CHECK(kind(signed_query({{"nat", "nat-cone"}}, true)) == krpc::message_kind::error);
    CHECK(b.service.stats().bad_signatures == 2);
    CHECK(b.service.registrations().find(b.now, peer.public_key_bytes())->nat == "nat-cone");
    // A genuinely new registration is verified, and then it is the one a keepalive repeats.
    const auto changed = signed_query({{"nat", "nat-symmetric"}}, false);
    CHECK(kind(changed) == krpc::message_kind::response);
    CHECK(kind(changed) == krpc::message_kind::response);
    CHECK(b.service.stats().signature_checks == 4);
    CHECK(b.service.registrations().find(b.now, peer.public_key_bytes())->nat == "nat-symmetric");
    CHECK(kind(registration) == krpc::message_kind::response);
    CHECK(b.service.stats().signature_checks == 5);
}

TEST_CASE("introducing to a key nobody registered is an error", "[overlay][hostile]") {
    bench b;
    random_source rng(6);
    auto requester = identity::generate(rng);
    auto stranger = identity::generate(rng);
    auto reply = introduce(b, requester, stranger, *endpoint::parse("198.51.100.9:7000"));
    REQUIRE(reply);
    CHECK(reply->kind == krpc::message_kind::error);
    CHECK(reply->error_code == krpc::generic_error);
    CHECK(reply->error_message == "target not registered here");
}

TEST_CASE("an introduction flood from one requester is rate-limited", "[overlay][hostile]") {
    bench b;
    random_source rng(7);
    auto target = identity::generate(rng);
    auto target_ep = *endpoint::parse("203.0.113.7:5000");
    REQUIRE(register_peer(b, target, target_ep)->kind == krpc::message_kind::response);
    auto requester = identity::generate(rng);
    const auto from = *endpoint::parse("198.51.100.9:7000");
    int ok = 0, limited = 0;
    for (int i = 0; i < 200; ++i) {
        auto reply = introduce(b, requester, target, from);
        REQUIRE(reply);
        if (reply->kind == krpc::message_kind::response) ++ok;
        else if (reply->error_message == "rate limited") ++limited;
    }
    CHECK(ok <= 12);
    CHECK(limited >= 188);
    // The target heard about at most as many introductions as were allowed.
    std::size_t to_target = 0;
    for (const auto& d : b.sent_elsewhere) {
        auto r = krpc::decode(d.payload);
        auto* m = std::get_if<krpc::message>(&r);
        to_target += d.to == target_ep && m && m->method == method::introduction;
    }
    CHECK(to_target == static_cast<std::size_t>(ok));
}

TEST_CASE("dial-back cannot be aimed at a third party", "[overlay][hostile]") {
    bench b;
    // Give the helper a prober in its routing table.
    dht::node prober(dht::node_config{}, random_source(9), null_logger(), b.now);
    const auto prober_ep = *endpoint::parse("192.0.2.50:6881");
    b.node.ping(b.now, prober_ep, {});
    auto ping = b.node.poll_transmit();
    REQUIRE(ping);
    prober.on_datagram(b.now, *endpoint::parse("192.0.2.1:6881"), ping->payload);
    b.node.on_datagram(b.now, prober_ep, prober.poll_transmit()->payload);
    REQUIRE(b.node.table().size() == 1);

    const auto requester = *endpoint::parse("198.51.100.9:7000");
    const auto victim = *endpoint::parse("203.0.113.99:80");
    // An extra "ep" naming a victim is ignored: the probe request names the requester.
    auto reply = b.ask(requester, method::dial_back, {{"n", std::string(8, 'n')}, {"ep", krpc::compact_endpoint(victim)}});
    REQUIRE(reply);
    CHECK(reply->kind == krpc::message_kind::response);
    bool asked_prober = false;
    for (const auto& d : b.sent_elsewhere) {
        CHECK(d.to != victim);
        if (d.to != prober_ep) continue;
        auto r = krpc::decode(d.payload);
        auto& m = std::get<krpc::message>(r);
        CHECK(m.method == method::probe);
        CHECK(krpc::parse_compact_endpoint(*bencode::find_string(m.body, "ep")) == requester);
        asked_prober = true;
    }
    CHECK(asked_prober);

    // A probe request for a private address, or a flood toward one target, sends little.
    b.raw.clear();
    auto priv = b.ask(*endpoint::parse("192.0.2.60:6881"), method::probe,
                      {{"n", std::string(8, 'n')}, {"ep", krpc::compact_endpoint(*endpoint::parse("10.0.0.1:80"))}});
    REQUIRE(priv);
    CHECK(priv->kind == krpc::message_kind::error);
    for (int i = 0; i < 100; ++i)
        b.ask(*endpoint::parse("192.0.2.60:6881"), method::probe, {{"n", std::string(8, 'n')}, {"ep", krpc::compact_endpoint(victim)}});
    CHECK(b.raw.size() <= 8);
    for (const auto& d : b.raw) {
        CHECK(d.payload.size() == 9);
        CHECK(d.from_secondary_port);
    }
}

TEST_CASE("LAN endpoints and NAT class in a registration are covered by its signature", "[overlay][hostile]") {
    bench b;
    random_source rng(8);
    auto who = identity::generate(rng);
    const auto from = *endpoint::parse("203.0.113.7:5000");
    auto first = b.ask(from, method::register_peer, {{"k", key_bytes(who)}});
    REQUIRE(first);
    const auto token = *bencode::find_string(first->body, "tok");
    bencode::dict signed_args{{"lan", endpoint_list({*endpoint::parse("10.0.0.2:6881")})}, {"nat", "nat-cone"}};
    auto sig = who.sign(introducer_service::registration_message(b.node.id(), token, signed_args));
    // Someone on the path swaps the LAN endpoint for an address of their choosing.
    auto reply = b.ask(from, method::register_peer,
                       {{"k", key_bytes(who)}, {"tok", token}, {"sig", std::string(sig.begin(), sig.end())},
                        {"lan", endpoint_list({*endpoint::parse("10.9.9.9:22")})}, {"nat", "nat-cone"}});
    REQUIRE(reply);
    CHECK(reply->kind == krpc::message_kind::error);
    CHECK(b.service.registrations().size() == 0);
    // The untouched registration is accepted.
    auto genuine = b.ask(from, method::register_peer,
                         {{"k", key_bytes(who)}, {"tok", token}, {"sig", std::string(sig.begin(), sig.end())},
                          {"lan", endpoint_list({*endpoint::parse("10.0.0.2:6881")})}, {"nat", "nat-cone"}});
    REQUIRE(genuine);
    CHECK(genuine->kind == krpc::message_kind::response);
    CHECK(b.service.registrations().size() == 1);
}

TEST_CASE("IPv6 endpoints that are not global unicast are never handed on", "[overlay][hostile][ipv6]") {
    bench b;
    random_source rng(9);
    auto target = identity::generate(rng);
    auto requester = identity::generate(rng);
    const auto target_at = *endpoint::parse("203.0.113.8:5000");
    const auto requester_at = *endpoint::parse("198.51.100.9:7000");
    // A registration (signed, so the introducer takes it) with the given ep6.
    auto register_with = [&](const std::string& ep6) {
        const auto token = registration_token(b, target, target_at);
        auto reply = b.ask(target_at, method::register_peer, signed_registration(b, target, token, {{"ep6", ep6}}));
        REQUIRE(reply);
        REQUIRE(reply->kind == krpc::message_kind::response);
    };
    // The requester's introduce with the given ep6: the reply, and the notice the target got.
    auto introduce_with = [&](const std::string& ep6) {
        b.sent_elsewhere.clear();
        bencode::dict args{{"k", key_bytes(requester)}, {"t", key_bytes(target)}, {"sid", std::string(8, 's')}, {"ep6", ep6}};
        auto first = b.ask(requester_at, method::introduce, args);
        REQUIRE(first);
        args.emplace("tok", *bencode::find_string(first->body, "tok"));
        auto reply = b.ask(requester_at, method::introduce, args);
        REQUIRE(reply);
        REQUIRE(reply->kind == krpc::message_kind::response);
        std::optional<krpc::message> notice;
        for (const auto& d : b.sent_elsewhere) {
            auto decoded = krpc::decode(d.payload);
            if (auto* m = std::get_if<krpc::message>(&decoded); m && d.to == target_at) notice = *m;
        }
        REQUIRE(notice);
        return std::pair{*reply, *notice};
    };
    const auto compact = [](const char* ep) { return krpc::compact_endpoint(*endpoint::parse(ep)); };

    SECTION("global ones travel both ways") {
        register_with(compact("[2001:db8:1::8]:5000"));
        auto [reply, notice] = introduce_with(compact("[2001:db8:2::9]:7000"));
        CHECK(read_ipv6_endpoint(reply.body) == endpoint::parse("[2001:db8:1::8]:5000"));
        CHECK(read_ipv6_endpoint(notice.body) == endpoint::parse("[2001:db8:2::9]:7000"));
    }
    for (const char* bad : {"[fe80::1]:5000", "[fd12::1]:5000", "[::ffff:203.0.113.9]:5000", "[::1]:5000",
                            "[ff02::1]:5000", "[2001:db8::1]:0"}) {
        SECTION(std::string("dropped: ") + bad) {
            register_with(compact(bad));
            auto [reply, notice] = introduce_with(compact(bad));
            CHECK_FALSE(reply.body.contains("ep6"));
            CHECK_FALSE(notice.body.contains("ep6"));
        }
    }
    SECTION("an IPv4 endpoint or garbage in ep6 is dropped") {
        register_with(compact("203.0.113.99:5000"));
        auto [reply, notice] = introduce_with(std::string(17, 'x'));
        CHECK_FALSE(reply.body.contains("ep6"));
        CHECK_FALSE(notice.body.contains("ep6"));
    }
}

TEST_CASE("dial-back picks the probers known longest", "[overlay][dial-back]") {
    bench b;
    // Nodes that answered us at the start, and nodes that came a minute later (in a real
    // DHT and in the lab, short-lived sessions that may be gone by now).
    std::vector<endpoint> early, late;
    std::vector<std::unique_ptr<dht::node>> nodes;
    for (int i = 0; i < 6; ++i) {
        if (i == 3) b.now += 60s;
        const auto ep = *endpoint::parse("192.0.2." + std::to_string(50 + i) + ":6881");
        nodes.push_back(std::make_unique<dht::node>(dht::node_config{}, random_source(20 + i), null_logger(), b.now));
        b.node.ping(b.now, ep, {});
        auto ping = b.node.poll_transmit();
        REQUIRE(ping);
        nodes.back()->on_datagram(b.now, *endpoint::parse("192.0.2.1:6881"), ping->payload);
        b.node.on_datagram(b.now, ep, nodes.back()->poll_transmit()->payload);
        (i < 3 ? early : late).push_back(ep);
    }
    REQUIRE(b.node.table().size() == 6);
    for (int round = 0; round < 5; ++round) {
        b.sent_elsewhere.clear();
        auto reply = b.ask(*endpoint::parse("198.51.100." + std::to_string(9 + round) + ":7000"), method::dial_back,
                           {{"n", std::string(8, 'n')}});
        REQUIRE(reply);
        CHECK(*bencode::find_int(reply->body, "np") == 2);
        int to_early = 0;
        for (const auto& d : b.sent_elsewhere) {
            CHECK(std::find(late.begin(), late.end(), d.to) == late.end());
            to_early += std::find(early.begin(), early.end(), d.to) != early.end();
        }
        CHECK(to_early == 2);
    }
}

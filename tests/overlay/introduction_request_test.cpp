// The introducer's fast path for ovl_introduce (read from the flat parse, notice and reply
// written straight to bytes) against the general path and against the tree encoder: the
// same query must make the same datagrams, byte for byte, whichever path answers it.
#include "dht/base/log.hpp"
#include "dht/krpc/codec.hpp"
#include "dht/krpc/compact.hpp"
#include "dht/node.hpp"
#include "overlay/introducer_service.hpp"
#include "overlay/methods.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::overlay;
using namespace std::chrono_literals;

namespace {

std::string compact(const char* ep) { return krpc::compact_endpoint(*endpoint::parse(ep)); }
std::string key_bytes(const identity& id) { return {id.public_key_bytes().begin(), id.public_key_bytes().end()}; }

const endpoint target_at = *endpoint::parse("203.0.113.8:5000");
const endpoint requester_at = *endpoint::parse("198.51.100.9:7000");

// One introducer with `target` registered (LAN endpoints, NAT class, port step, IPv6).
struct introducer {
    timestamp now{1000s};
    dht::node node;
    introducer_service service;

    explicit introducer(const identity& target, bool read_only)
        : node(config(read_only), random_source(1), null_logger(), now),
          service(node, introducer_limits{}, relay_limits{}, 60s, node.rng(), null_logger(), now, [] { return true; }) {
        auto first = ask(target_at, method::register_peer, {{"k", key_bytes(target)}});
        const auto token = *bencode::find_string(first.at(0).body, "tok");
        bencode::dict fields{{"ep6", compact("[2001:db8:1::8]:5000")},
                             {"lan", bencode::list{compact("10.0.0.2:6881"), compact("10.0.0.3:6881")}},
                             {"nat", "nat-symmetric"},
                             {"pd", 2}};
        const auto sig = target.sign(introducer_service::registration_message(node.id(), token, fields));
        fields.emplace("k", key_bytes(target));
        fields.emplace("tok", token);
        fields.emplace("sig", std::string(sig.begin(), sig.end()));
        REQUIRE(ask(target_at, method::register_peer, fields).at(0).kind == krpc::message_kind::response);
    }

    static dht::node_config config(bool read_only) {
        dht::node_config c;
        c.version = "OV01";
        c.read_only = read_only;
        return c;
    }

    // The answers to a query (not the ping a new querier gets, nor notices).
    std::vector<krpc::message> ask(const endpoint& from, const std::string& method, bencode::dict args) {
        args.emplace("id", std::string(20, 'q'));
        node.on_datagram(now, from, krpc::encode(krpc::message::query("tx", method, std::move(args))));
        std::vector<krpc::message> out;
        for (const auto& d : drain()) {
            auto m = std::get<krpc::message>(krpc::decode(d.payload));
            if (d.to == from && m.kind != krpc::message_kind::query) out.push_back(std::move(m));
        }
        return out;
    }

    std::vector<outgoing_datagram> drain() {
        std::vector<outgoing_datagram> out;
        while (auto d = node.poll_transmit()) out.push_back(std::move(*d));
        return out;
    }
};

// An ovl_introduce with every optional field, some of them partly unusable.
bencode::dict rich_introduce(const identity& requester, const identity& target) {
    return {{"id", std::string(20, 'q')},
            {"k", key_bytes(requester)},
            {"t", key_bytes(target)},
            {"sid", std::string(8, 's')},
            // Six items: a non-string, a port-0 endpoint and garbage are skipped, then four kept.
            {"lan", bencode::list{std::int64_t{7}, compact("10.1.0.1:0"), std::string(5, 'x'), compact("10.1.0.2:1"),
                                  compact("10.1.0.3:2"), compact("[2001:db8::3]:3"), compact("10.1.0.5:4"),
                                  compact("10.1.0.6:5")}},
            {"pred", bencode::list{compact("198.51.100.9:7002"), compact("198.51.100.9:7004")}},
            {"ep6", compact("[2001:db8:2::9]:7000")},
            {"nat", std::string(40, 'n')},
            {"ctx", std::string(32, 'c')},
            {"tr", "tcp"}};
}

bytes introduce_query(bencode::dict args, const std::string& token) {
    args.emplace("tok", token);
    return krpc::encode(krpc::message::query("ab", method::introduce, std::move(args)));
}

} // namespace

TEST_CASE("ovl_introduce gives the same datagrams on the fast path and on the general path",
          "[overlay][introducer]") {
    const bool read_only = GENERATE(false, true);
    random_source rng(11);
    const auto target = identity::generate(rng);
    const auto requester = identity::generate(rng);
    introducer fast(target, read_only);
    introducer general(target, read_only);
    auto args = rich_introduce(requester, target);
    SECTION("with every optional field") {}
    SECTION("with none") {
        for (const char* key : {"lan", "pred", "ep6", "nat", "ctx", "tr"}) args.erase(key);
    }
    SECTION("with an empty list of predictions and a ctx too long to forward") {
        args.insert_or_assign("pred", bencode::list{});
        args.insert_or_assign("ctx", std::string(33, 'c'));
    }
    SECTION("with predictions none of which is usable") {
        args.insert_or_assign("pred", bencode::list{std::int64_t{1}, std::string(3, 'p')});
    }
    const auto token = *bencode::find_string(fast.ask(requester_at, method::introduce, args).at(0).body, "tok");
    REQUIRE(*bencode::find_string(general.ask(requester_at, method::introduce, args).at(0).body, "tok") == token);

    const auto query = introduce_query(args, token);
    fast.node.on_datagram(fast.now, requester_at, query);
    general.node.on_message(general.now, requester_at, std::get<krpc::message>(krpc::decode(query)));
    const auto a = fast.drain();
    const auto b = general.drain();
    CHECK(fast.node.stats().queries_extension_flat == 1);
    CHECK(general.node.stats().queries_extension_flat == 0);
    CHECK(fast.service.stats().introductions_ok == 1);
    CHECK(general.service.stats().introductions_ok == 1);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].to == b[i].to);
        CHECK(a[i].payload == b[i].payload);
    }
    REQUIRE(a.size() >= 2);
    CHECK(a[0].to == target_at);
    CHECK(a[1].to == requester_at);

    SECTION("and they are what the tree encoder writes for the same values") {
        const auto notice = std::get<krpc::message>(krpc::decode(a[0].payload));
        bencode::dict expected_notice{{"id", general.node.id().to_bytes()},
                                      {"k", key_bytes(requester)},
                                      {"ep", compact("198.51.100.9:7000")},
                                      {"sid", std::string(8, 's')}};
        bencode::list lan;
        if (args.contains("lan"))
            lan = {compact("10.1.0.2:1"), compact("10.1.0.3:2"), compact("[2001:db8::3]:3"), compact("10.1.0.5:4")};
        expected_notice.emplace("lan", lan);
        if (args.contains("nat")) expected_notice.emplace("nat", std::string(32, 'n'));
        if (args.contains("ep6")) expected_notice.emplace("ep6", compact("[2001:db8:2::9]:7000"));
        if (args.contains("tr")) expected_notice.emplace("tr", "tcp");
        if (const auto* ctx = bencode::find_string(args, "ctx"); ctx && ctx->size() <= 32)
            expected_notice.emplace("ctx", *ctx);
        if (const auto* pred = bencode::find_list(args, "pred"); pred && !pred->empty()) {
            bencode::list usable;
            if (pred->front().as_string())
                usable = {compact("198.51.100.9:7002"), compact("198.51.100.9:7004")};
            expected_notice.emplace("pred", usable);
        }
        auto q = krpc::message::query(notice.transaction_id, method::introduction, expected_notice);
        q.read_only = read_only;
        q.version = "OV01";
        CHECK(a[0].payload == krpc::encode(q));

        auto r = krpc::message::response("ab", {{"id", general.node.id().to_bytes()},
                                                {"ep", compact("203.0.113.8:5000")},
                                                {"ep6", compact("[2001:db8:1::8]:5000")},
                                                {"lan", bencode::list{compact("10.0.0.2:6881"), compact("10.0.0.3:6881")}},
                                                {"nat", "nat-symmetric"},
                                                {"pd", 2},
                                                {"sid", std::string(8, 's')}});
        r.observed = requester_at;
        r.version = "OV01";
        CHECK(a[1].payload == krpc::encode(r));
    }
}

TEST_CASE("the fast path leaves refusals and first contact to the general path", "[overlay][introducer]") {
    random_source rng(12);
    const auto target = identity::generate(rng);
    const auto requester = identity::generate(rng);
    introducer b(target, false);
    auto args = rich_introduce(requester, target);

    // No token yet: the general path hands one out.
    auto first = b.ask(requester_at, method::introduce, args);
    REQUIRE(first.size() == 1);
    CHECK(bencode::find_string(first[0].body, "tok"));
    // A malformed sid: the general path's error.
    auto bad = args;
    bad.insert_or_assign("sid", std::string(7, 's'));
    auto refused = b.ask(requester_at, method::introduce, bad);
    REQUIRE(refused.size() == 1);
    CHECK(refused[0].error_message == "missing or malformed k, t or sid");
    CHECK(b.node.stats().queries_extension_flat == 0);

    // A valid token for an unknown target: answered on the fast path with the error.
    auto unknown = args;
    unknown.insert_or_assign("t", key_bytes(requester));
    unknown.emplace("tok", *bencode::find_string(first[0].body, "tok"));
    auto error = b.ask(requester_at, method::introduce, unknown);
    REQUIRE(error.size() == 1);
    CHECK(error[0].kind == krpc::message_kind::error);
    CHECK(error[0].error_message == "target not registered here");
    CHECK(error[0].observed == requester_at);
    CHECK(b.node.stats().queries_extension_flat == 1);
}

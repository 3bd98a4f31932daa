// Which IPv6 endpoint a dual-stack overlay_node advertises: what IPv6 DHT nodes report
// seeing (BEP 42 "ip"), following a privacy address as it rotates, never a non-global one,
// and never mixed into the IPv4 NAT classification. Replies are crafted by hand.
#include "dht/base/log.hpp"
#include "dht/krpc/codec.hpp"
#include "dht/krpc/compact.hpp"
#include "overlay/identity.hpp"
#include "overlay/overlay_node.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace ovl;
using namespace ovl::overlay;
using namespace std::chrono_literals;

namespace {

const endpoint helper6 = *endpoint::parse("[2001:db8:77::1]:6881");
const endpoint helper4 = *endpoint::parse("198.51.100.1:6881");

struct dual_stack_node {
    timestamp now{1000s};
    std::unique_ptr<overlay_node> node;

    dual_stack_node() {
        overlay_config c;
        c.local = *endpoint::parse("10.0.0.2:6881");
        c.local6 = *endpoint::parse("[::]:6881");
        c.dht.families = {true, true};
        c.dht.bootstrap = {helper4, helper6};
        random_source rng(5);
        node = std::make_unique<overlay_node>(c, identity::generate(rng), random_source(6), null_logger(), now);
        node->start(now);
    }

    // Answers every query the node has sent to a helper in `seen` with a reply saying the
    // helper sees us at the endpoint mapped to it; returns how many were answered.
    int answer(const std::map<endpoint, endpoint>& seen) {
        std::vector<std::pair<endpoint, bytes>> replies;
        while (auto d = node->poll_transmit()) {
            auto it = seen.find(d->to);
            if (it == seen.end()) continue;
            auto decoded = krpc::decode(d->payload);
            auto* q = std::get_if<krpc::message>(&decoded);
            if (!q || q->kind != krpc::message_kind::query) continue;
            const auto ip = krpc::compact_endpoint(it->second);
            const std::string reply = "d2:ip" + std::to_string(ip.size()) + ":" + ip + "1:rd2:id20:" +
                                      std::string(20, 'h') + "e1:t" + std::to_string(q->transaction_id.size()) + ":" +
                                      q->transaction_id + "1:y1:re";
            replies.emplace_back(d->to, bytes(reply.begin(), reply.end()));
        }
        for (const auto& [from, r] : replies) node->on_datagram(now, from, r);
        return static_cast<int>(replies.size());
    }
};

} // namespace

TEST_CASE("a dual-stack node advertises the IPv6 address DHT nodes see, and follows it when it rotates",
          "[overlay][ipv6]") {
    dual_stack_node n;
    CHECK_FALSE(n.node->ipv6_endpoint());  // bound to [::]: nothing to say yet
    CHECK(n.node->profile().ipv6 == ipv6_reachability::none);
    const auto first = *endpoint::parse("[2001:db8:5::a1]:6881");
    REQUIRE(n.answer({{helper6, first}}) > 0);
    CHECK(n.node->ipv6_endpoint() == first);
    CHECK(n.node->profile().ipv6 == ipv6_reachability::firewalled);
    CHECK(n.node->profile().ipv6_endpoint == first);

    // The system's privacy address rotated: the next reply (here to the DHT join that
    // follows the first dial-back rounds) reports the new one.
    n.now += 4s;
    n.node->on_timeout(n.now);
    const auto rotated = *endpoint::parse("[2001:db8:5::b2]:6881");
    REQUIRE(n.answer({{helper6, rotated}}) > 0);
    CHECK(n.node->ipv6_endpoint() == rotated);
}

TEST_CASE("IPv6 reports never enter the IPv4 NAT classification", "[overlay][ipv6]") {
    dual_stack_node n;
    REQUIRE(n.answer({{helper6, *endpoint::parse("[2001:db8:5::a1]:6881")},
                      {helper4, *endpoint::parse("203.0.113.9:40000")}}) >= 2);
    const auto p = n.node->profile();
    CHECK(p.observed == std::vector<endpoint>{*endpoint::parse("203.0.113.9:40000")});
    CHECK(p.ipv6_endpoint == endpoint::parse("[2001:db8:5::a1]:6881"));
}

TEST_CASE("a non-global IPv6 address reported by a DHT node is never advertised", "[overlay][ipv6][hostile]") {
    for (const char* bad : {"[fe80::1]:6881", "[fd00::1]:6881", "[::ffff:203.0.113.9]:6881", "[::1]:6881"}) {
        INFO(bad);
        dual_stack_node n;
        REQUIRE(n.answer({{helper6, *endpoint::parse(bad)}}) > 0);
        CHECK_FALSE(n.node->ipv6_endpoint());
        CHECK(n.node->profile().ipv6 == ipv6_reachability::none);
    }
}

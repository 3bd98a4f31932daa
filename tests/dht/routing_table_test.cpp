#include "dht/routing_table.hpp"
#include "dht/secure_node_id.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace ovl;
using namespace ovl::dht;
using namespace std::chrono_literals;

namespace {
endpoint ep_for(int i) { return endpoint{ip_address::v4(0xC6336400u + static_cast<std::uint32_t>(i)), 6881}; }
} // namespace

TEST_CASE("the table splits only the bucket holding our own id", "[routing_table]") {
    random_source rng(11);
    auto self = node_id::random(rng);
    routing_table table(self);
    timestamp now{100s};
    // Many nodes that share no prefix with us: they all land in bucket 0, which fills
    // after one split and never grows past k.
    int far_added = 0;
    for (int i = 0; i < 50; ++i) {
        auto id = node_id::random_in_bucket(self, 0, rng);
        if (table.on_reply(now, id, ep_for(i), 10ms) == insert_result::added) ++far_added;
    }
    CHECK(far_added == 8);
    // Nodes near us keep splitting the last bucket.
    for (int i = 0; i < 200; ++i) table.on_reply(now, node_id::random_in_bucket(self, 10 + i % 20, rng), ep_for(100 + i), 10ms);
    CHECK(table.bucket_count() > 10);
    for (const auto& e : table.all_nodes()) CHECK(e.id != self);
}

TEST_CASE("closest() returns the true closest known nodes in order", "[routing_table]") {
    random_source rng(12);
    auto self = node_id::random(rng);
    routing_table table(self);
    timestamp now{100s};
    for (int i = 0; i < 500; ++i) table.on_reply(now, node_id::random(rng), ep_for(i), 10ms);
    auto all = table.all_nodes();
    for (int trial = 0; trial < 50; ++trial) {
        auto target = node_id::random(rng);
        auto got = table.closest(target, 8);
        auto expected = all;
        std::sort(expected.begin(), expected.end(),
                  [&](const node_entry& a, const node_entry& b) { return closer_to(target, a.id, b.id); });
        expected.resize(std::min<std::size_t>(8, expected.size()));
        REQUIRE(got.size() == expected.size());
        for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i].id == expected[i].id);
    }
}

TEST_CASE("a bad node is replaced from the replacement cache", "[routing_table]") {
    random_source rng(13);
    auto self = node_id::random(rng);
    routing_table table(self);
    timestamp now{100s};
    // Fill bucket 0 (after the first split) and overflow it into the cache.
    std::vector<node_id> ids;
    for (int i = 0; i < 9; ++i) ids.push_back(node_id::random_in_bucket(self, 0, rng));
    table.on_reply(now, node_id::random_in_bucket(self, 5, rng), ep_for(99), 1ms);
    for (int i = 0; i < 9; ++i) table.on_reply(now, ids[i], ep_for(i), 1ms);
    REQUIRE(table.find(ids[0]));
    CHECK_FALSE(table.find(ids[8]));
    table.on_failure(ids[0], ep_for(0));
    CHECK(table.find(ids[0]));  // one miss is not enough
    table.on_failure(ids[0], ep_for(0));
    CHECK_FALSE(table.find(ids[0]));
    CHECK(table.find(ids[8]));
}

TEST_CASE("known ids cannot move to another endpoint, and IPs are not shared", "[routing_table]") {
    random_source rng(14);
    routing_table table(node_id::random(rng));
    timestamp now{100s};
    auto a = node_id::random(rng);
    auto b = node_id::random(rng);
    CHECK(table.on_reply(now, a, ep_for(1), 1ms) == insert_result::added);
    CHECK(table.on_reply(now, a, ep_for(2), 1ms) == insert_result::rejected);
    CHECK(table.on_reply(now, b, endpoint{ep_for(1).address, 7000}, 1ms) == insert_result::rejected);
    CHECK(table.find(a)->ep == ep_for(1));
}

TEST_CASE("nodes silent for 15 minutes become questionable", "[routing_table]") {
    random_source rng(15);
    routing_table table(node_id::random(rng));
    timestamp now{100s};
    table.on_reply(now, node_id::random(rng), ep_for(1), 1ms);
    CHECK(table.questionable(now + 14min, 10).empty());
    CHECK(table.questionable(now + 15min, 10).size() == 1);
}

TEST_CASE("with require_bep42_ids only ids that obey BEP 42 get a slot, in either family", "[routing_table]") {
    random_source rng(13);
    routing_table_config config;
    config.require_bep42_ids = true;
    routing_table table(node_id::random(rng), config);
    const timestamp now{100s};
    const auto v4 = *endpoint::parse("198.51.100.20:6881");
    const auto v6 = *endpoint::parse("[2001:db8:5::20]:6881");
    const auto lan = *endpoint::parse("[fd00::20]:6881");
    CHECK(table.on_reply(now, node_id::random(rng), v4, 10ms) == insert_result::rejected);
    CHECK(table.on_reply(now, node_id::random(rng), v6, 10ms) == insert_result::rejected);
    CHECK(table.on_reply(now, secure_node_id(v4.address, 3, rng), v4, 10ms) == insert_result::added);
    CHECK(table.on_reply(now, secure_node_id(v6.address, 200, rng), v6, 10ms) == insert_result::added);
    // An id made for another address does not pass; local addresses are exempt.
    CHECK(table.on_reply(now, secure_node_id(v6.address, 7, rng), *endpoint::parse("[2001:db8:6::1]:1"), 10ms) ==
          insert_result::rejected);
    CHECK(table.on_reply(now, node_id::random(rng), lan, 10ms) == insert_result::added);
}

TEST_CASE("one node per IPv4 address and per IPv6 /64", "[routing_table]") {
    random_source rng(14);
    routing_table table(node_id::random(rng));
    const timestamp now{100s};
    auto add = [&](const char* ep) { return table.on_reply(now, node_id::random(rng), *endpoint::parse(ep), 10ms); };
    CHECK(add("[2001:db8:1:1::1]:6881") == insert_result::added);
    CHECK(add("[2001:db8:1:1:ffff::2]:6882") == insert_result::rejected);
    CHECK(add("[2001:db8:1:2::1]:6881") == insert_result::added);
    CHECK(add("198.51.100.1:6881") == insert_result::added);
    CHECK(add("198.51.100.1:6882") == insert_result::rejected);
    CHECK(add("198.51.100.2:6881") == insert_result::added);
}

TEST_CASE("a node keeps the time it first answered, also through the replacement cache", "[routing_table]") {
    random_source rng(16);
    auto self = node_id::random(rng);
    routing_table table(self);
    timestamp t0{100s};
    std::vector<node_id> ids;
    for (int i = 0; i < 9; ++i) ids.push_back(node_id::random_in_bucket(self, 0, rng));
    table.on_reply(t0, node_id::random_in_bucket(self, 5, rng), ep_for(99), 1ms);
    for (int i = 0; i < 9; ++i) table.on_reply(t0, ids[i], ep_for(i), 1ms);
    // A live node answering again, and the cached ninth answering again later.
    table.on_reply(t0 + 60s, ids[1], ep_for(1), 1ms);
    CHECK(table.on_reply(t0 + 60s, ids[8], ep_for(8), 1ms) == insert_result::cached);
    CHECK(table.find(ids[1])->first_seen == t0);
    CHECK(table.find(ids[1])->last_seen == t0 + 60s);
    // The cached node moves up when a live one goes bad, with its first answer's time.
    table.on_failure(ids[0], ep_for(0));
    table.on_failure(ids[0], ep_for(0));
    REQUIRE(table.find(ids[8]));
    CHECK(table.find(ids[8])->first_seen == t0);
}

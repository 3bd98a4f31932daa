#include "dht/krpc/rpc_manager.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::krpc;
using namespace std::chrono_literals;

TEST_CASE("replies are matched by transaction id and sender", "[rpc]") {
    random_source rng(1);
    rpc_manager rpc(rng);
    timestamp t0{1000s};
    auto peer = *endpoint::parse("192.0.2.1:1000");
    auto other = *endpoint::parse("192.0.2.2:1000");
    int calls = 0;
    query_status status{};
    auto tid = rpc.begin(t0, peer, 2s, [&](timestamp, const query_outcome& o) {
        ++calls;
        status = o.status;
    });
    REQUIRE(tid);
    CHECK(rpc.outstanding() == 1);

    // Right id from the wrong sender: not ours.
    CHECK_FALSE(rpc.on_reply(t0 + 10ms, other, message::response(*tid, {})));
    CHECK(rpc.on_reply(t0 + 20ms, peer, message::response(*tid, {})));
    CHECK(calls == 1);
    CHECK(status == query_status::response);
    // A duplicate reply finds nothing.
    CHECK_FALSE(rpc.on_reply(t0 + 30ms, peer, message::response(*tid, {})));
    CHECK(rpc.outstanding() == 0);
}

TEST_CASE("unanswered queries time out once, at their deadline", "[rpc]") {
    random_source rng(2);
    rpc_manager rpc(rng);
    timestamp t0{1000s};
    auto peer = *endpoint::parse("192.0.2.1:1000");
    int timeouts = 0;
    rpc.begin(t0, peer, 2s, [&](timestamp, const query_outcome& o) {
        if (o.status == query_status::timeout) ++timeouts;
    });
    REQUIRE(rpc.next_deadline() == t0 + 2s);
    rpc.on_timeout(t0 + 1s);
    CHECK(timeouts == 0);
    rpc.on_timeout(t0 + 2s);
    CHECK(timeouts == 1);
    rpc.on_timeout(t0 + 10s);
    CHECK(timeouts == 1);
    CHECK(rpc.outstanding() == 0);
}

TEST_CASE("outstanding queries are capped", "[rpc]") {
    random_source rng(3);
    rpc_manager rpc(rng, 4);
    timestamp t0{1000s};
    auto peer = *endpoint::parse("192.0.2.1:1000");
    for (int i = 0; i < 4; ++i) CHECK(rpc.begin(t0, peer, 1s, [](timestamp, const query_outcome&) {}));
    CHECK_FALSE(rpc.begin(t0, peer, 1s, [](timestamp, const query_outcome&) {}));
}

TEST_CASE("a query that asked for it is reported slow once, then answered or timed out", "[rpc]") {
    random_source rng(4);
    rpc_manager rpc(rng);
    timestamp t0{1000s};
    auto peer = *endpoint::parse("192.0.2.1:1000");
    std::vector<query_status> seen;
    auto record = [&](timestamp, const query_outcome& o) { seen.push_back(o.status); };
    auto answered = rpc.begin(t0, peer, 3s, record, 1s);
    rpc.begin(t0, peer, 3s, record, 1s);
    // Without slow_after (or with one not below the timeout) nothing is provisional.
    rpc.begin(t0, peer, 3s, record);
    rpc.begin(t0, peer, 3s, record, 3s);
    REQUIRE(rpc.next_deadline() == t0 + 1s);
    rpc.on_timeout(t0 + 1s);
    CHECK(seen == std::vector{query_status::slow, query_status::slow});
    CHECK(rpc.outstanding() == 4);
    // A slow query still takes its reply.
    CHECK(rpc.on_reply(t0 + 2s, peer, message::response(*answered, {})));
    rpc.on_timeout(t0 + 3s);
    CHECK(seen == std::vector{query_status::slow, query_status::slow, query_status::response, query_status::timeout,
                              query_status::timeout, query_status::timeout});
    CHECK(rpc.outstanding() == 0);
}

TEST_CASE("a query past both deadlines at once only times out", "[rpc]") {
    random_source rng(5);
    rpc_manager rpc(rng);
    timestamp t0{1000s};
    std::vector<query_status> seen;
    rpc.begin(t0, *endpoint::parse("192.0.2.1:1000"), 3s, [&](timestamp, const query_outcome& o) { seen.push_back(o.status); },
              1s);
    rpc.on_timeout(t0 + 5s);
    CHECK(seen == std::vector{query_status::timeout});
}

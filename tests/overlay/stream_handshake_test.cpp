#include "stream_harness.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::test;
using state = overlay::secure_stream::state;

namespace {
bool both_open(const stream_pair& p) {
    return p.a->current_state() == state::open && p.b && p.b->current_state() == state::open;
}
} // namespace

TEST_CASE("handshake completes and each side sees the other's identity", "[handshake]") {
    stream_pair p(1);
    REQUIRE(p.run_until([&] { return both_open(p); }, 1s));
    CHECK(p.now == timestamp{} + 30ms); // 1.5 round trips of 10 ms links
    CHECK(*p.a->peer() == p.id_b.public_key_bytes());
    CHECK(*p.b->peer() == p.id_a.public_key_bytes());
    CHECK(p.a->id() == p.b->id());
    CHECK(p.a->id() != 0);
}

TEST_CASE("first data rides right behind the handshake (1-RTT)", "[handshake]") {
    stream_pair p(2);
    const bytes hello{'h', 'i'};
    REQUIRE(p.a->write(hello) == 2);
    bytes got;
    REQUIRE(p.run_until([&] { return got == hello; }, 1s, [&] {
        if (p.b) {
            auto r = p.b->read();
            got.insert(got.end(), r.begin(), r.end());
        }
    }));
    // INIT 10 ms, RESPONSE 10 ms, FINISH+data 10 ms.
    CHECK(p.now == timestamp{} + 30ms);
}

TEST_CASE("an initiator expecting another key fails with a clear reason", "[handshake]") {
    random_source other_rng(99);
    auto stranger = overlay::identity::generate(other_rng);
    stream_pair p(3, {}, {}, {}, stranger.public_key_bytes());
    REQUIRE(p.run_until([&] { return p.a->current_state() == state::failed; }, 1s));
    CHECK_THAT(p.a->failure_reason(), Catch::Contains("peer key mismatch"));
    CHECK_THAT(p.a->failure_reason(), Catch::Contains(stranger.peer_id()));
    CHECK_THAT(p.a->failure_reason(), Catch::Contains(p.id_b.peer_id()));
    // The responder never gets a FINISH, so it never opens.
    p.run_until([] { return false; }, 20s);
    CHECK(p.b->current_state() == state::failed);
    CHECK_THAT(p.b->failure_reason(), Catch::Contains("handshake timed out"));
}

TEST_CASE("an initiator without an expected key accepts whoever answers", "[handshake]") {
    stream_pair p(4, {}, {}, {}, std::nullopt, false);
    REQUIRE(p.run_until([&] { return both_open(p); }, 1s));
    CHECK(*p.a->peer() == p.id_b.public_key_bytes());
}

TEST_CASE("lost handshake packets are retransmitted", "[handshake]") {
    for (int lost = 0; lost < 3; ++lost) {
        stream_pair p(5 + static_cast<std::uint64_t>(lost));
        int seen = 0;
        // Drop the first INIT, the first RESPONSE, or the first FINISH.
        p.filter = [&, lost](stream_pair::side, bytes& d) { return d[0] != 0x10 + lost || seen++ > 0; };
        const bytes hello{'x'};
        p.a->write(hello);
        bytes got;
        INFO("dropped packet type 0x1" << lost);
        REQUIRE(p.run_until([&] { return got == hello && both_open(p); }, 5s, [&] {
            if (p.b) {
                auto r = p.b->read();
                got.insert(got.end(), r.begin(), r.end());
            }
        }));
    }
}

TEST_CASE("a peer that never answers makes the handshake time out", "[handshake]") {
    overlay::stream_config cfg;
    cfg.handshake_timeout = 5s;
    stream_pair p(8, {}, {}, cfg);
    p.filter = [](stream_pair::side, bytes&) { return false; };
    REQUIRE(p.run_until([&] { return p.a->current_state() == state::failed; }, 10s));
    CHECK(p.now == timestamp{} + 5s);
    CHECK_THAT(p.a->failure_reason(), Catch::Contains("handshake timed out"));
}

TEST_CASE("a responder aborting after seeing the initiator's key refuses it", "[handshake]") {
    stream_pair p(9);
    REQUIRE(p.run_until([&] { return p.b && p.b->current_state() == state::open; }, 1s));
    p.b->abort("not on my allow list");
    REQUIRE(p.run_until([&] { return p.a->current_state() == state::failed; }, 1s));
    CHECK(p.a->failure_reason() == "peer aborted: not on my allow list");
}

TEST_CASE("every packet starts with a stream type byte and fits in 1200 bytes", "[handshake]") {
    stream_pair p(10);
    bool ok = true;
    p.filter = [&](stream_pair::side, bytes& d) {
        ok = ok && d.size() <= 1200 && d[0] >= 0x10 && d[0] <= 0x1F;
        return true;
    };
    random_source data_rng(1);
    const auto payload = random_bytes(data_rng, 100000);
    REQUIRE(transfer(p, payload, 10s) == payload);
    CHECK(ok);
}

TEST_CASE("the INIT is at least as large as the RESPONSE (no amplification)", "[handshake]") {
    stream_pair p(11);
    std::size_t init = 0, response = 0;
    p.filter = [&](stream_pair::side, bytes& d) {
        if (d[0] == 0x10) init = d.size();
        if (d[0] == 0x11) response = d.size();
        return true;
    };
    REQUIRE(p.run_until([&] { return both_open(p); }, 1s));
    CHECK(init >= response);
    CHECK(response > 0);
}

// relay_table on its own: frames go only between the two ends of a session, within the
// volunteer's caps, and nothing is relayed when relaying is disabled.
#include "overlay/relay_table.hpp"
#include "overlay/wire_tags.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::overlay;
using namespace std::chrono_literals;

namespace {

const endpoint end_a{ip_address::v4(0xCB007105), 40000};   // 203.0.113.5
const endpoint end_b{ip_address::v4(0xC6336407), 50000};   // 198.51.100.7
const endpoint stranger{ip_address::v4(0x01020304), 40000};
const std::string sid1 = "SESSION1";
const std::string sid2 = "SESSION2";

bytes payload(std::size_t n, std::uint8_t fill = 0x5a) { return bytes(n, fill); }

} // namespace

TEST_CASE("relay_table: frames round-trip through session_of", "[relay_table]") {
    const auto p = payload(10, 0x42);
    const auto f = relay_table::frame(sid1, p);
    REQUIRE(f.size() == 9 + p.size());
    CHECK(f[0] == tag::relay_first);
    REQUIRE(relay_table::session_of(f));
    CHECK(*relay_table::session_of(f) == sid1);
    CHECK(bytes(f.begin() + 9, f.end()) == p);

    CHECK_FALSE(relay_table::session_of(bytes{}));
    // A header with no payload is not a frame.
    CHECK_FALSE(relay_table::session_of(bytes(f.begin(), f.begin() + 9)));
    auto wrong = f;
    wrong[0] = tag::punch_probe;
    CHECK_FALSE(relay_table::session_of(wrong));
}

TEST_CASE("relay_table: forwards only between the two ends", "[relay_table]") {
    const timestamp t0{1000s};
    relay_table r(relay_limits{});
    REQUIRE(r.open(t0, sid1, end_a, end_b) == relay_table::open_result::opened);
    CHECK(r.sessions() == 1);
    CHECK(r.stats().sessions_opened == 1);

    const auto f = relay_table::frame(sid1, payload(100));
    auto out = r.forward(t0, end_a, f);
    REQUIRE(out);
    CHECK(out->to == end_b);
    CHECK(out->payload == f);

    out = r.forward(t0, end_b, f);
    REQUIRE(out);
    CHECK(out->to == end_a);
    CHECK(out->payload == f);
    CHECK(r.stats().frames_relayed == 2);
    CHECK(r.stats().bytes_relayed == 2 * f.size());

    // A third party, even one with the right IP but another port, is dropped.
    CHECK_FALSE(r.forward(t0, stranger, f));
    CHECK_FALSE(r.forward(t0, endpoint{end_a.address, 40001}, f));
    CHECK(r.stats().frames_dropped == 2);

    // Unknown session: dropped.
    CHECK_FALSE(r.forward(t0, end_a, relay_table::frame(sid2, payload(10))));
    CHECK(r.stats().frames_dropped == 3);
    CHECK(r.stats().frames_relayed == 2);

    // Not a relay frame at all: nothing to forward.
    CHECK_FALSE(r.forward(t0, end_a, bytes{tag::punch_probe, 1, 2, 3, 4, 5, 6, 7, 8}));
    CHECK(r.stats().frames_relayed == 2);
}

TEST_CASE("relay_table: the per-session byte cap", "[relay_table]") {
    const timestamp t0{1000s};
    relay_limits limits;
    limits.bytes_per_session = 100;
    relay_table r(limits);
    REQUIRE(r.open(t0, sid1, end_a, end_b) == relay_table::open_result::opened);
    REQUIRE(r.open(t0, sid2, end_a, end_b) == relay_table::open_result::opened);

    const auto f = relay_table::frame(sid1, payload(41));  // 50 bytes
    CHECK(r.forward(t0, end_a, f));
    CHECK(r.forward(t0 + 1s, end_b, f));  // exactly 100: still allowed
    CHECK_FALSE(r.forward(t0 + 2s, end_a, f));
    CHECK_FALSE(r.forward(t0 + 3s, end_b, relay_table::frame(sid1, payload(1))));
    CHECK(r.stats().frames_dropped == 2);
    CHECK(r.stats().bytes_relayed == 100);

    // The cap is per session: the other one still has its budget.
    CHECK(r.forward(t0 + 3s, end_a, relay_table::frame(sid2, payload(41))));
    // Asking again for the same session does not give it a fresh budget.
    CHECK(r.open(t0 + 4s, sid1, end_a, end_b) == relay_table::open_result::opened);
    CHECK_FALSE(r.forward(t0 + 4s, end_a, relay_table::frame(sid1, payload(1))));
    CHECK(r.stats().sessions_opened == 2);
}

TEST_CASE("relay_table: max sessions, and idle ones make room", "[relay_table]") {
    const timestamp t0{1000s};
    relay_limits limits;
    limits.max_sessions = 2;
    limits.idle_timeout = 60s;
    relay_table r(limits);
    REQUIRE(r.open(t0, sid1, end_a, end_b) == relay_table::open_result::opened);
    REQUIRE(r.open(t0 + 10s, sid2, end_a, end_b) == relay_table::open_result::opened);
    CHECK(r.open(t0 + 10s, "SESSION3", end_a, end_b) == relay_table::open_result::full);
    CHECK(r.sessions() == 2);
    CHECK(r.stats().sessions_refused == 1);
    CHECK_FALSE(r.forward(t0 + 10s, end_a, relay_table::frame("SESSION3", payload(10))));

    // Reopening a session that exists is not a new one.
    CHECK(r.open(t0 + 20s, sid1, end_a, end_b) == relay_table::open_result::opened);
    CHECK(r.sessions() == 2);

    // sid1 was renewed at +20 s, sid2 idle since +10 s: at +70 s sid2 is idle, sid1 not.
    CHECK(r.open(t0 + 70s, "SESSION3", end_a, end_b) == relay_table::open_result::opened);
    CHECK(r.sessions() == 2);
    CHECK(r.forward(t0 + 70s, end_a, relay_table::frame(sid1, payload(10))));
    CHECK_FALSE(r.forward(t0 + 70s, end_a, relay_table::frame(sid2, payload(10))));
    CHECK(r.forward(t0 + 70s, end_b, relay_table::frame("SESSION3", payload(10))));
}

TEST_CASE("relay_table: idle sessions expire, traffic keeps them alive", "[relay_table]") {
    const timestamp t0{1000s};
    relay_limits limits;
    limits.idle_timeout = 60s;
    relay_table r(limits);
    REQUIRE(r.open(t0, sid1, end_a, end_b) == relay_table::open_result::opened);
    REQUIRE(r.open(t0, sid2, end_a, end_b) == relay_table::open_result::opened);
    REQUIRE(r.forward(t0 + 30s, end_a, relay_table::frame(sid1, payload(10))));

    r.expire(t0 + 59s);
    CHECK(r.sessions() == 2);
    r.expire(t0 + 60s);
    CHECK(r.sessions() == 1);
    CHECK_FALSE(r.forward(t0 + 60s, end_a, relay_table::frame(sid2, payload(10))));
    r.expire(t0 + 89s);
    CHECK(r.sessions() == 1);
    CHECK(r.forward(t0 + 89s, end_b, relay_table::frame(sid1, payload(10))));
    r.expire(t0 + 148s);
    CHECK(r.sessions() == 1);
    r.expire(t0 + 149s);
    CHECK(r.sessions() == 0);
    CHECK_FALSE(r.forward(t0 + 149s, end_a, relay_table::frame(sid1, payload(10))));
}

TEST_CASE("relay_table: a disabled relay refuses everything", "[relay_table]") {
    const timestamp t0{1000s};
    relay_limits limits;
    limits.enabled = false;
    relay_table r(limits);
    CHECK(r.open(t0, sid1, end_a, end_b) == relay_table::open_result::disabled);
    CHECK(r.sessions() == 0);
    CHECK(r.stats().sessions_opened == 0);
    CHECK_FALSE(r.forward(t0, end_a, relay_table::frame(sid1, payload(10))));
    CHECK_FALSE(r.forward(t0, end_b, relay_table::frame(sid1, payload(10))));
    CHECK(r.stats().frames_relayed == 0);
}

TEST_CASE("relay_table: the shared bandwidth budget limits all sessions together", "[relay_table]") {
    const timestamp t0{1000s};
    relay_limits limits;
    limits.bytes_per_second = 64 * 1024;
    relay_table r(limits);
    REQUIRE(r.open(t0, sid1, end_a, end_b) == relay_table::open_result::opened);
    REQUIRE(r.open(t0, sid2, end_a, end_b) == relay_table::open_result::opened);
    // 400 frames of ~1 KB in one instant: far over the 64 KiB burst.
    const auto f1 = relay_table::frame(sid1, payload(1000));
    const auto f2 = relay_table::frame(sid2, payload(1000));
    int relayed = 0;
    for (int i = 0; i < 200; ++i) {
        if (r.forward(t0, end_a, f1)) ++relayed;
        if (r.forward(t0, end_a, f2)) ++relayed;
    }
    // Shared across sessions: far fewer than the 400 offered in one instant.
    CHECK(relayed > 0);
    CHECK(relayed < 400);
    CHECK(r.stats().frames_dropped == static_cast<std::uint64_t>(400 - relayed));
    // Some budget returns with time.
    CHECK(r.forward(t0 + 1s, end_a, f1));
}

// Large frames must not pass more bytes per second than the volunteer allowed.
TEST_CASE("relay_table: the bandwidth budget is in bytes, not frames", "[relay_table]") {
    const timestamp t0{1000s};
    relay_limits limits;
    limits.bytes_per_second = 64 * 1024;  // burst: 64 KiB
    relay_table r(limits);
    REQUIRE(r.open(t0, sid1, end_a, end_b) == relay_table::open_result::opened);
    const auto f = relay_table::frame(sid1, payload(8000));
    for (int i = 0; i < 100; ++i) r.forward(t0, end_a, f);
    // At most the burst plus one frame's worth may pass in a single instant.
    CHECK(r.stats().bytes_relayed <= 64 * 1024 + f.size());
}

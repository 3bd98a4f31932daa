// The relay caps a volunteer sets, on relay_table alone: the monthly byte budget, and
// caps changed at run time (what overlay-node does on SIGHUP).
#include "overlay/relay_table.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::overlay;
using namespace std::chrono_literals;

namespace {

const endpoint end_a{ip_address::v4(0xCB007105), 40000}; // 203.0.113.5
const endpoint end_b{ip_address::v4(0xC6336407), 50000}; // 198.51.100.7

bytes frame_of(const std::string& sid, std::size_t payload) { return relay_table::frame(sid, bytes(payload, 0x5a)); }

} // namespace

TEST_CASE("relay_table: the monthly budget stops relaying until the period rolls over", "[node][relay]") {
    relay_limits limits;
    limits.bytes_per_month = 10'000;
    limits.budget_period = 24h;
    relay_table r(limits);
    timestamp t{1000s};
    REQUIRE(r.open(t, "SESSION1", end_a, end_b) == relay_table::open_result::opened);
    const auto f = frame_of("SESSION1", 991); // 1000 bytes with the header

    for (int i = 0; i < 10; ++i) REQUIRE(r.forward(t + std::chrono::seconds(i), end_a, f));
    CHECK(r.period_bytes() == 10'000);
    CHECK_FALSE(r.forward(t + 20s, end_a, f));
    CHECK(r.stats().frames_over_budget == 1);
    CHECK(r.stats().frames_over_rate == 0);
    CHECK(r.open(t + 20s, "SESSION2", end_a, end_b) == relay_table::open_result::budget_spent);
    CHECK(r.stats().sessions_refused == 1);

    // A new period: the session (kept alive) relays again.
    const auto next = t + 24h + 1s;
    REQUIRE(r.open(next, "SESSION1", end_a, end_b) == relay_table::open_result::opened);
    CHECK(r.forward(next, end_a, f));
    CHECK(r.period_bytes() == 1000);
}

TEST_CASE("relay_table: no budget means no monthly limit", "[node][relay]") {
    relay_limits limits;
    limits.bytes_per_month = 0;
    limits.bytes_per_second = 1e12;
    relay_table r(limits);
    const timestamp t{1000s};
    REQUIRE(r.open(t, "SESSION1", end_a, end_b) == relay_table::open_result::opened);
    const auto f = frame_of("SESSION1", 1000);
    for (int i = 0; i < 1000; ++i) REQUIRE(r.forward(t, end_a, f));
    CHECK(r.stats().frames_dropped == 0);
}

TEST_CASE("relay_table: set_limits keeps open sessions and applies the new caps to new ones", "[node][relay]") {
    relay_limits limits;
    limits.max_sessions = 3;
    relay_table r(limits);
    const timestamp t{1000s};
    for (const char* sid : {"SESSION1", "SESSION2", "SESSION3"})
        REQUIRE(r.open(t, sid, end_a, end_b) == relay_table::open_result::opened);

    limits.max_sessions = 1;
    r.set_limits(limits);
    CHECK(r.sessions() == 3);
    CHECK(r.forward(t, end_a, frame_of("SESSION2", 100)));
    CHECK(r.open(t, "SESSION4", end_a, end_b) == relay_table::open_result::full);

    limits.bytes_per_month = 50;
    r.set_limits(limits);
    // Bytes already relayed this period count against a budget set later.
    CHECK(r.period_bytes() == 109);
    CHECK_FALSE(r.forward(t, end_a, frame_of("SESSION2", 100)));
    CHECK(r.stats().frames_over_budget == 1);
}

TEST_CASE("relay_table: turning relaying off at run time ends every session", "[node][relay]") {
    relay_limits limits;
    relay_table r(limits);
    const timestamp t{1000s};
    REQUIRE(r.open(t, "SESSION1", end_a, end_b) == relay_table::open_result::opened);
    limits.enabled = false;
    r.set_limits(limits);
    CHECK(r.sessions() == 0);
    CHECK_FALSE(r.forward(t, end_a, frame_of("SESSION1", 100)));
    CHECK(r.open(t, "SESSION2", end_a, end_b) == relay_table::open_result::disabled);
}

TEST_CASE("relay_table: a lowered bytes-per-second cap drops frames and counts them", "[node][relay]") {
    relay_limits limits;
    relay_table r(limits);
    const timestamp t{1000s};
    REQUIRE(r.open(t, "SESSION1", end_a, end_b) == relay_table::open_result::opened);
    limits.bytes_per_second = 1000; // bursts of 64 KiB still pass
    r.set_limits(limits);
    const auto f = frame_of("SESSION1", 1191);
    int passed = 0;
    for (int i = 0; i < 100; ++i) passed += r.forward(t, end_a, f) ? 1 : 0;
    CHECK(passed == 65536 / 1200);
    CHECK(r.stats().frames_over_rate == static_cast<std::uint64_t>(100 - passed));
}

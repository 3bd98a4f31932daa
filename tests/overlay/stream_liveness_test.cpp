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

TEST_CASE("an idle but alive path stays open on keepalives", "[liveness]") {
    stream_pair p(40);
    std::uint64_t keepalives = 0;
    p.filter = [&](stream_pair::side, bytes&) {
        ++keepalives;
        return true;
    };
    REQUIRE(p.run_until([&] { return both_open(p); }, 1s));
    keepalives = 0;
    p.run_until([] { return false; }, 10min);
    CHECK(both_open(p));
    // Each side sends a keepalive about every 15 s, and acknowledges the other's.
    CHECK(keepalives >= 2 * 600 / 15);
    CHECK(keepalives <= 4 * 600 / 15 + 8);
}

TEST_CASE("keepalive interval and idle timeout are configurable", "[liveness]") {
    overlay::stream_config cfg;
    cfg.keepalive_interval = 2s;
    cfg.idle_timeout = 5s;
    stream_pair p(41, {}, {}, cfg);
    std::uint64_t sent = 0;
    p.filter = [&](stream_pair::side, bytes&) {
        ++sent;
        return true;
    };
    REQUIRE(p.run_until([&] { return both_open(p); }, 1s));
    sent = 0;
    p.run_until([] { return false; }, 60s);
    CHECK(both_open(p));
    CHECK(sent >= 2 * 60 / 2);
}

TEST_CASE("a path that goes silent is detected after idle_timeout", "[liveness]") {
    stream_pair p(42);
    REQUIRE(p.run_until([&] { return both_open(p); }, 1s));
    const auto cut = p.now;
    p.filter = [](stream_pair::side, bytes&) { return false; };
    REQUIRE(p.run_until([&] { return p.a->current_state() == state::failed && p.b->current_state() == state::failed; },
                        2min));
    CHECK_THAT(p.a->failure_reason(), Catch::StartsWith("path silent"));
    CHECK_THAT(p.b->failure_reason(), Catch::StartsWith("path silent"));
    CHECK(p.now - cut <= 31s);
    CHECK(p.now - cut >= 29s);
    CHECK_FALSE(p.a->next_deadline());
}

TEST_CASE("a path that dies in the middle of a transfer is detected too", "[liveness]") {
    stream_pair p(43);
    random_source data_rng(43);
    const auto payload = random_bytes(data_rng, 4 << 20);
    std::size_t written = 0, received = 0;
    bool cut = false;
    p.filter = [&](stream_pair::side, bytes&) { return !cut; };
    REQUIRE(p.run_until([&] { return p.a->current_state() == state::failed; }, 2min, [&] {
        written += p.a->write(bytes_view(payload).subspan(written));
        if (p.b) received += p.b->read().size();
        cut = cut || received > 100000;
    }));
    CHECK_THAT(p.a->failure_reason(), Catch::StartsWith("path silent"));
    CHECK(p.a->stats().retransmits > 0);
    CHECK(p.a->write(payload) == 0);
}

TEST_CASE("a lossy idle path stays open: keepalives are probed again when lost", "[liveness]") {
    stream_pair p(44);
    REQUIRE(p.run_until([&] { return both_open(p); }, 1s));
    p.links[0] = p.links[1] = link_profile{30ms, 0ms, 0.3};
    p.run_until([] { return false; }, 10min);
    CHECK(both_open(p));
}

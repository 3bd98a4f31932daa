// The event queue pops by time, and simultaneous events in the order they were pushed,
// also across the renumbering of its 32-bit sequence numbers, whether events are due at
// once, in its calendar's windows or beyond them; upcoming() shows the next ones in order.
#include "sim/event_queue.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

using namespace ovl;
using namespace ovl::sim;

namespace {

// Pushes `count` events at most `spread` ns after the last pop (many ties when it is small),
// interleaved with pops, and checks every pop against a reference ordering by (time, push
// order).
void check_order(event_queue& queue, int count, std::uint64_t spread) {
    struct pushed {
        timestamp at;
        std::uint32_t ref;
    };
    std::vector<pushed> pending;
    std::uint32_t next_ref = 0;
    std::uint64_t state = 12345;
    auto draw = [&](std::uint64_t bound) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return (state >> 33) % bound;
    };
    timestamp now{};
    auto pop_and_check = [&] {
        std::sort(pending.begin(), pending.end(), [](const pushed& a, const pushed& b) {
            return a.at != b.at ? a.at < b.at : a.ref < b.ref;
        });
        const std::span<const event> upcoming = queue.upcoming();
        REQUIRE(upcoming.size() >= std::min(event_queue::lookahead, pending.size()));
        for (std::size_t i = 0; i < upcoming.size(); ++i) {
            REQUIRE(upcoming[i].at == pending[i].at);
            REQUIRE(upcoming[i].ref == pending[i].ref);
        }
        const auto expected = pending.begin();
        const event e = queue.pop();
        REQUIRE(e.at == expected->at);
        REQUIRE(e.ref == expected->ref);
        now = e.at;
        pending.erase(expected);
    };
    for (int i = 0; i < count; ++i) {
        // Mostly near (ties when spread is small), some far, a few beyond the calendar.
        const std::uint64_t bound = draw(8) == 0 ? spread * 1000 : spread;
        const timestamp at = now + duration(static_cast<duration::rep>(draw(bound)));
        queue.push(at, next_ref);
        pending.push_back({at, next_ref++});
        // At most 50 pending, so that a queue renumbering after 100 keeps renumbering.
        if (draw(3) == 0 || pending.size() > 50) pop_and_check();
    }
    while (!pending.empty()) pop_and_check();
    CHECK(queue.empty());
}

} // namespace

TEST_CASE("events pop by time, ties in push order", "[sim][event_queue]") {
    event_queue queue;
    check_order(queue, 2000, 4);
}

TEST_CASE("renumbering sequence numbers keeps the order of pending events", "[sim][event_queue]") {
    event_queue queue(100);
    check_order(queue, 5000, 4);
}

TEST_CASE("events spread over the calendar's windows and beyond pop in order", "[sim][event_queue]") {
    event_queue queue;
    check_order(queue, 20000, 100'000'000);
}

TEST_CASE("renumbering keeps the order of events spread over the calendar", "[sim][event_queue]") {
    event_queue queue(100);
    check_order(queue, 20000, 100'000);
}

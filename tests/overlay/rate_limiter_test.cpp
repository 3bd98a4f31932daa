// rate_limiter on its own: token buckets per key with a bounded number of keys.
#include "overlay/rate_limiter.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::overlay;
using namespace std::chrono_literals;

TEST_CASE("rate_limiter: a burst, then the rate", "[rate_limiter]") {
    const timestamp t0{1000s};
    rate_limiter rl(2.0, 5.0);
    for (int i = 0; i < 5; ++i) CHECK(rl.allow(t0, "a"));
    CHECK_FALSE(rl.allow(t0, "a"));
    CHECK_FALSE(rl.allow(t0 + 400ms, "a"));  // 0.8 tokens
    CHECK(rl.allow(t0 + 500ms, "a"));        // 1.0 token
    CHECK_FALSE(rl.allow(t0 + 500ms, "a"));
    // Sustained: two per second.
    int allowed = 0;
    for (int ms = 1000; ms <= 10500; ms += 100)
        if (rl.allow(t0 + std::chrono::milliseconds(ms), "a")) ++allowed;
    // 10 s at 2/s; tolerate one lost to floating-point refill rounding.
    CHECK(allowed >= 19);
    CHECK(allowed <= 20);
}

TEST_CASE("rate_limiter: refill is capped at the burst", "[rate_limiter]") {
    const timestamp t0{1000s};
    rate_limiter rl(1.0, 3.0);
    for (int i = 0; i < 3; ++i) REQUIRE(rl.allow(t0, "a"));
    REQUIRE_FALSE(rl.allow(t0, "a"));
    // A long pause refills to the burst, not to 100 tokens.
    const timestamp later = t0 + 100s;
    for (int i = 0; i < 3; ++i) CHECK(rl.allow(later, "a"));
    CHECK_FALSE(rl.allow(later, "a"));
}

TEST_CASE("rate_limiter: keys have their own buckets", "[rate_limiter]") {
    const timestamp t0{1000s};
    rate_limiter rl(1.0, 2.0);
    CHECK(rl.allow(t0, "a"));
    CHECK(rl.allow(t0, "a"));
    CHECK_FALSE(rl.allow(t0, "a"));
    CHECK(rl.allow(t0, "b"));
    CHECK(rl.allow(t0, "b"));
    CHECK_FALSE(rl.allow(t0, "b"));
    CHECK(rl.keys() == 2);
}

TEST_CASE("rate_limiter: a full table refuses new keys while its buckets are busy", "[rate_limiter]") {
    const timestamp t0{1000s};
    rate_limiter rl(1.0, 2.0, 2);
    REQUIRE(rl.allow(t0, "a"));
    REQUIRE(rl.allow(t0, "a"));  // a: 0 tokens
    REQUIRE(rl.allow(t0, "b"));  // b: 1 token
    CHECK_FALSE(rl.allow(t0, "c"));
    CHECK_FALSE(rl.allow(t0 + 500ms, "c"));  // b at 1.5, a at 0.5: both busy
    CHECK(rl.keys() == 2);

    // After a second b has refilled completely and is forgotten; a has not.
    CHECK(rl.allow(t0 + 1s, "c"));
    CHECK(rl.keys() == 2);
    // a kept its state (one token back), so it was not evicted and reset to a burst.
    CHECK(rl.allow(t0 + 1s, "a"));
    CHECK_FALSE(rl.allow(t0 + 1s, "a"));
    // The table is still full of busy buckets (a, c): b is now a new key and refused.
    CHECK_FALSE(rl.allow(t0 + 1s, "b"));
    CHECK(rl.keys() == 2);
}

TEST_CASE("rate_limiter: a flood of distinct keys does not grow the table", "[rate_limiter]") {
    const timestamp t0{1000s};
    rate_limiter rl(0.1, 1.0, 10);
    int allowed = 0;
    for (int i = 0; i < 1000; ++i)
        if (rl.allow(t0, "k" + std::to_string(i))) ++allowed;
    CHECK(allowed == 10);
    CHECK(rl.keys() == 10);
}

TEST_CASE("rate_limiter: keys are compared in full, up to the longest allowed", "[rate_limiter]") {
    const timestamp t0{1000s};
    rate_limiter rl(1.0, 1.0);
    const std::string longest(rate_limiter::max_key_size, 'x');
    CHECK(rl.allow(t0, longest));
    CHECK_FALSE(rl.allow(t0, longest));
    // Differs in the last byte only: a bucket of its own.
    CHECK(rl.allow(t0, longest.substr(0, longest.size() - 1) + "y"));
    // A prefix is another key too.
    CHECK(rl.allow(t0, longest.substr(0, 4)));
    CHECK(rl.keys() == 3);
    CHECK_THROWS_AS(rl.allow(t0, longest + "x"), std::length_error);
}

#include "dht/ip_rate_limiter.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::dht;
using namespace std::chrono_literals;

namespace {
ip_address ip(const char* text) { return *ip_address::parse(text); }

// How many datagrams in a row `from` gets through at one instant.
int allowed(ip_rate_limiter& limiter, timestamp now, const ip_address& from) {
    int n = 0;
    while (n < 1000 && limiter.allow(now, from)) ++n;
    return n;
}
} // namespace

TEST_CASE("one bucket per IPv4 address and per IPv6 /64", "[ip_rate_limiter]") {
    random_source rng(1);
    ip_rate_limit limit;
    limit.per_second = 10;
    limit.burst = 20;
    ip_rate_limiter limiter(limit, rng);
    const timestamp now{100s};
    CHECK(allowed(limiter, now, ip("198.51.100.1")) == 20);
    CHECK(allowed(limiter, now, ip("198.51.100.2")) == 20);
    CHECK(allowed(limiter, now, ip("2001:db8:1:2::1")) == 20);
    // Another address in the same /64 (a privacy address, or a spoofer) gets nothing more.
    CHECK(allowed(limiter, now, ip("2001:db8:1:2:abcd::9")) == 0);
    CHECK(allowed(limiter, now, ip("2001:db8:1:3::1")) == 20);
    // The bucket refills at per_second.
    CHECK(allowed(limiter, now + 1s, ip("2001:db8:1:2:ffff::1")) == 10);
}

#include "dht/base/endpoint.hpp"

#include <catch2/catch.hpp>

using ovl::endpoint;
using ovl::ip_address;

TEST_CASE("endpoints parse and print IPv4 and IPv6", "[endpoint]") {
    auto v4 = endpoint::parse("192.0.2.7:6881");
    REQUIRE(v4);
    CHECK(v4->address.is_v4());
    CHECK(v4->port == 6881);
    CHECK(v4->to_string() == "192.0.2.7:6881");

    auto v6 = endpoint::parse("[2001:db8::1]:443");
    REQUIRE(v6);
    CHECK(v6->address.is_v6());
    CHECK(v6->to_string() == "[2001:db8::1]:443");
}

TEST_CASE("malformed endpoints are rejected", "[endpoint]") {
    for (const char* bad : {"", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3:80", "host:80",
                            "2001:db8::1:80", "[2001:db8::1]80", "[::1]:", "1.2.3.4:8a"}) {
        INFO(bad);
        CHECK_FALSE(endpoint::parse(bad));
    }
}

TEST_CASE("address classes follow the IANA registries", "[endpoint]") {
    auto ip = [](const char* s) { return *ip_address::parse(s); };
    CHECK(ip("10.1.2.3").is_private());
    CHECK(ip("172.16.0.1").is_private());
    CHECK_FALSE(ip("172.32.0.1").is_private());
    CHECK(ip("192.168.1.1").is_private());
    CHECK(ip("127.0.0.1").is_loopback());
    CHECK(ip("169.254.1.1").is_link_local());
    CHECK(ip("100.64.0.1").is_shared());
    CHECK(ip("224.0.0.1").is_multicast());
    CHECK(ip("fe80::1").is_link_local());
    CHECK(ip("fd00::1").is_private());
    // Documentation ranges count as global so that labs can use them.
    CHECK(ip("192.0.2.1").is_global());
    CHECK(ip("203.0.113.9").is_global());
    CHECK(ip("2001:db8::5").is_global());
    CHECK_FALSE(ip("10.0.0.1").is_global());
    CHECK_FALSE(ip("::ffff:192.0.2.1").is_global());
    CHECK_FALSE(ip("0.0.0.0").is_global());
}

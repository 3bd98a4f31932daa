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

TEST_CASE("IPv6 is global only in 2000::/3, documentation prefix included", "[endpoint]") {
    auto ip = [](const char* s) { return *ip_address::parse(s); };
    CHECK(ip("::ffff:192.0.2.1").is_v4_mapped());
    CHECK_FALSE(ip("2001:db8::ffff:c000:201").is_v4_mapped());
    CHECK_FALSE(ip("192.0.2.1").is_v4_mapped());
    CHECK(ip("::ffff:192.0.2.1").family() == ovl::ip_family::v6);
    for (const char* global : {"2001:db8::1", "2001:db8:ffff:ffff::1", "2a01:4f8::1", "2600::1", "3fff::1"})
        CHECK(ip(global).is_global());
    for (const char* local : {"::", "::1", "::192.0.2.1", "::ffff:198.51.100.1", "64:ff9b::c000:201", "fc00::1",
                              "fd12:3456::1", "fe80::1", "fec0::1", "ff02::1", "ff0e::1", "4000::1"})
        CHECK_FALSE(ip(local).is_global());
}

TEST_CASE("a host's block is its IPv4 address or its IPv6 /64", "[endpoint]") {
    auto ip = [](const char* s) { return *ip_address::parse(s); };
    CHECK(ip("198.51.100.7").host_block() == ip("198.51.100.7"));
    CHECK(ip("2001:db8:1:2:a:b:c:d").host_block() == ip("2001:db8:1:2::"));
    CHECK(ip("2001:db8:1:2::1").host_block() == ip("2001:db8:1:2:ffff::").host_block());
    CHECK(ip("2001:db8:1:3::1").host_block() != ip("2001:db8:1:2::1").host_block());
}

// mapping_observer on its own: classification of our NAT's mapping and port allocation
// from the endpoints other nodes report seeing us at.
#include "overlay/mapping_observer.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::overlay;

namespace {

ip_address ip(std::uint32_t host_order) { return ip_address::v4(host_order); }
endpoint ep(std::uint32_t host_order, std::uint16_t port) { return {ip(host_order), port}; }

constexpr std::uint32_t lan_ip = 0xC0A80002;     // 192.168.0.2
constexpr std::uint32_t public_ip = 0xCB007105;  // 203.0.113.5
// Observer IPs: 198.51.100.N
ip_address observer(std::uint32_t n) { return ip(0xC6336400 + n); }

} // namespace

TEST_CASE("mapping_observer: fewer than two observers is unknown", "[mapping_observer]") {
    mapping_observer m(ep(lan_ip, 6881));
    CHECK(m.mapping() == mapping_behaviour::unknown);
    CHECK(m.ports() == port_behaviour::unknown);
    CHECK_FALSE(m.latest());
    CHECK(m.agreeing_samples() == 0);
    m.observe(observer(1), ep(public_ip, 6881), 1);
    CHECK(m.mapping() == mapping_behaviour::unknown);
    CHECK(m.ports() == port_behaviour::unknown);
    CHECK_FALSE(m.public_endpoint());
}

TEST_CASE("mapping_observer: observed address equal to the local one means no NAT", "[mapping_observer]") {
    mapping_observer m(ep(public_ip, 6881));
    m.observe(observer(1), ep(public_ip, 6881), 1);
    m.observe(observer(2), ep(public_ip, 6881), 2);
    m.observe(observer(3), ep(public_ip, 6881), 3);
    CHECK(m.mapping() == mapping_behaviour::none);
    CHECK(m.ports() == port_behaviour::preserving);
    CHECK(m.agreeing_samples() == 3);
    REQUIRE(m.public_endpoint());
    CHECK(*m.public_endpoint() == ep(public_ip, 6881));
}

TEST_CASE("mapping_observer: an unspecified local address never concludes no NAT", "[mapping_observer]") {
    mapping_observer m(endpoint{ip_address::v4(0), 6881});
    m.observe(observer(1), ep(public_ip, 6881), 1);
    m.observe(observer(2), ep(public_ip, 6881), 2);
    CHECK(m.mapping() == mapping_behaviour::endpoint_independent);
    CHECK(m.ports() == port_behaviour::preserving);
    // Once the real local address is known and matches, it is no NAT after all.
    m.set_local(ep(public_ip, 6881));
    CHECK(m.mapping() == mapping_behaviour::none);
}

TEST_CASE("mapping_observer: endpoint-independent, port preserving", "[mapping_observer]") {
    mapping_observer m(ep(lan_ip, 6881));
    for (std::uint32_t i = 1; i <= 4; ++i) m.observe(observer(i), ep(public_ip, 6881), i);
    CHECK(m.mapping() == mapping_behaviour::endpoint_independent);
    CHECK(m.ports() == port_behaviour::preserving);
    CHECK(m.agreeing_samples() == 4);
    REQUIRE(m.public_endpoint());
    CHECK(*m.public_endpoint() == ep(public_ip, 6881));
    CHECK(m.distinct_observed() == std::vector<endpoint>{ep(public_ip, 6881)});
}

TEST_CASE("mapping_observer: endpoint-independent, port not preserved", "[mapping_observer]") {
    mapping_observer m(ep(lan_ip, 6881));
    for (std::uint32_t i = 1; i <= 3; ++i) m.observe(observer(i), ep(public_ip, 51234), i);
    CHECK(m.mapping() == mapping_behaviour::endpoint_independent);
    CHECK(m.ports() == port_behaviour::random);
    CHECK(m.port_delta() == 0);
    REQUIRE(m.public_endpoint());
    CHECK(m.public_endpoint()->port == 51234);
}

TEST_CASE("mapping_observer: a minority dissenter does not break a clear majority", "[mapping_observer]") {
    mapping_observer m(ep(lan_ip, 6881));
    for (std::uint32_t i = 1; i <= 3; ++i) m.observe(observer(i), ep(public_ip, 40000), i);
    m.observe(observer(4), ep(public_ip, 40999), 4);
    CHECK(m.mapping() == mapping_behaviour::endpoint_independent);
    CHECK(m.agreeing_samples() == 3);
    CHECK(m.distinct_observed().size() == 2);
    // Two against two is no majority: endpoint-dependent.
    m.observe(observer(5), ep(public_ip, 41999), 5);
    m.observe(observer(6), ep(public_ip, 42999), 6);
    CHECK_FALSE(m.public_endpoint());
    CHECK(m.mapping() == mapping_behaviour::endpoint_dependent);
}

TEST_CASE("mapping_observer: endpoint-dependent with random ports", "[mapping_observer]") {
    mapping_observer m(ep(lan_ip, 6881));
    const std::uint16_t ports[] = {40000, 12345, 61000, 23456};
    for (std::uint32_t i = 0; i < 4; ++i) m.observe(observer(i + 1), ep(public_ip, ports[i]), i + 1);
    CHECK(m.mapping() == mapping_behaviour::endpoint_dependent);
    CHECK(m.ports() == port_behaviour::random);
    CHECK(m.port_delta() == 0);
    CHECK(m.agreeing_samples() == 4);
    CHECK_FALSE(m.public_endpoint());
}

TEST_CASE("mapping_observer: endpoint-dependent with sequential ports", "[mapping_observer]") {
    mapping_observer m(ep(lan_ip, 6881));
    SECTION("step 1, in order") {
        for (std::uint32_t i = 0; i < 4; ++i)
            m.observe(observer(i + 1), ep(public_ip, static_cast<std::uint16_t>(40000 + i)), i);
        CHECK(m.mapping() == mapping_behaviour::endpoint_dependent);
        CHECK(m.ports() == port_behaviour::sequential);
        CHECK(m.port_delta() == 1);
    }
    SECTION("step 2, reports arriving out of order") {
        // order 2, 0, 3, 1: the ports follow the order argument, not arrival.
        m.observe(observer(1), ep(public_ip, 40004), 2);
        m.observe(observer(2), ep(public_ip, 40000), 0);
        m.observe(observer(3), ep(public_ip, 40006), 3);
        m.observe(observer(4), ep(public_ip, 40002), 1);
        CHECK(m.ports() == port_behaviour::sequential);
        CHECK(m.port_delta() == 2);
        REQUIRE(m.latest());
        CHECK(*m.latest() == ep(public_ip, 40006));
    }
    SECTION("gaps from observers that never answered keep the step") {
        // Mappings for orders 1, 3 and 4 were never reported.
        m.observe(observer(1), ep(public_ip, 40000), 0);
        m.observe(observer(2), ep(public_ip, 40004), 2);
        m.observe(observer(3), ep(public_ip, 40010), 5);
        m.observe(observer(4), ep(public_ip, 40012), 6);
        CHECK(m.ports() == port_behaviour::sequential);
        CHECK(m.port_delta() == 2);
    }
    SECTION("decreasing ports give a negative step") {
        for (std::uint32_t i = 0; i < 3; ++i)
            m.observe(observer(i + 1), ep(public_ip, static_cast<std::uint16_t>(50000 - 3 * i)), i);
        CHECK(m.ports() == port_behaviour::sequential);
        CHECK(m.port_delta() == -3);
    }
    SECTION("direction change is not sequential") {
        m.observe(observer(1), ep(public_ip, 40000), 0);
        m.observe(observer(2), ep(public_ip, 40002), 1);
        m.observe(observer(3), ep(public_ip, 40001), 2);
        CHECK(m.mapping() == mapping_behaviour::endpoint_dependent);
        CHECK(m.ports() == port_behaviour::random);
        CHECK(m.port_delta() == 0);
    }
    SECTION("two samples are not enough to call it sequential") {
        m.observe(observer(1), ep(public_ip, 40000), 0);
        m.observe(observer(2), ep(public_ip, 40001), 1);
        CHECK(m.mapping() == mapping_behaviour::endpoint_dependent);
        CHECK(m.port_delta() == 0);
        CHECK(m.ports() == port_behaviour::random);
    }
}

TEST_CASE("mapping_observer: one observer cannot outvote the rest", "[mapping_observer]") {
    mapping_observer m(ep(lan_ip, 6881));
    m.observe(observer(1), ep(public_ip, 40000), 1);
    m.observe(observer(2), ep(public_ip, 40000), 2);
    m.observe(observer(3), ep(public_ip, 40000), 3);
    // A liar repeats a different endpoint many times (also under fresh order values).
    for (std::uint64_t k = 0; k < 20; ++k) m.observe(observer(9), ep(0x01020304, 1234), 100 + k);
    CHECK(m.mapping() == mapping_behaviour::endpoint_independent);
    REQUIRE(m.public_endpoint());
    CHECK(*m.public_endpoint() == ep(public_ip, 40000));
    CHECK(m.agreeing_samples() == 3);
    CHECK(m.distinct_observed().size() == 2);
}

TEST_CASE("mapping_observer: one observer repeating itself is still one sample", "[mapping_observer]") {
    mapping_observer m(ep(lan_ip, 6881));
    for (std::uint64_t k = 0; k < 5; ++k) m.observe(observer(1), ep(public_ip, 40000), k);
    CHECK(m.mapping() == mapping_behaviour::unknown);
    CHECK_FALSE(m.public_endpoint());
    // Its latest report replaces its earlier one.
    m.observe(observer(1), ep(public_ip, 40001), 10);
    REQUIRE(m.latest());
    CHECK(*m.latest() == ep(public_ip, 40001));
    CHECK(m.distinct_observed().size() == 1);
}

TEST_CASE("mapping_observer: observers beyond the cap are ignored", "[mapping_observer]") {
    mapping_observer m(ep(lan_ip, 6881), 3);
    for (std::uint32_t i = 1; i <= 3; ++i) m.observe(observer(i), ep(public_ip, 40000), i);
    for (std::uint32_t i = 4; i <= 10; ++i) m.observe(observer(i), ep(public_ip, static_cast<std::uint16_t>(50000 + 100 * i)), i);
    CHECK(m.mapping() == mapping_behaviour::endpoint_independent);
    CHECK(m.agreeing_samples() == 3);
    CHECK(m.distinct_observed() == std::vector<endpoint>{ep(public_ip, 40000)});
}

TEST_CASE("mapping_observer: remembers where each observer saw us, for aligning predicted ports",
          "[mapping_observer]") {
    mapping_observer m(ep(lan_ip, 6881));
    m.observe(observer(1), ep(public_ip, 4000), 1);
    m.observe(observer(2), ep(public_ip, 4001), 2);
    m.observe(observer(3), ep(public_ip, 4002), 3);
    CHECK(m.ports() == port_behaviour::sequential);
    REQUIRE(m.seen_by(observer(1)));
    CHECK(*m.seen_by(observer(1)) == ep(public_ip, 4000));
    CHECK(*m.latest() == ep(public_ip, 4002));
    CHECK_FALSE(m.seen_by(observer(9)));
    // A later report from the same observer replaces its earlier one.
    m.observe(observer(1), ep(public_ip, 4003), 4);
    CHECK(*m.seen_by(observer(1)) == ep(public_ip, 4003));
}

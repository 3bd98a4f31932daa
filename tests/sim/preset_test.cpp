// Each named preset against the textbook exchange: A sends to S1 and S2; S1 replies from
// its other port, S3 sends unsolicited. Expectations follow RFC 4787's definitions.
#include "sim/nat_scene.hpp"
#include "sim/site.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <stdexcept>
#include <string>

using namespace ovl;
using namespace ovl::sim;
using namespace ovl::sim::testing;

namespace {
struct expectation {
    const char* preset;
    bool same_port_for_s1_s2; // endpoint-independent mapping
    bool port_preserved;
    bool s1_other_port_gets_in; // passes address-dependent filtering
    bool s3_gets_in;            // passes endpoint-independent filtering
};
} // namespace

TEST_CASE("presets behave as their names promise", "[sim][nat][preset]") {
    const expectation table[] = {
        {"full-cone", true, true, true, true},
        {"restricted-cone", true, true, true, false},
        {"port-restricted-cone", true, true, false, false},
        {"symmetric", false, false, false, false},
        {"symmetric-sequential", false, false, false, false},
        {"cgnat", true, false, false, false},
    };
    for (const auto& e : table) {
        INFO("preset " << e.preset);
        nat_scene s(nat_preset(e.preset));
        const endpoint x1 = s.mapped_via(s.s1);
        const endpoint x2 = s.mapped_via(s.s2);
        CHECK(x1.address == ip("40.0.0.1"));
        CHECK((x1 == x2) == e.same_port_for_s1_s2);
        CHECK((x1.port == 5000) == e.port_preserved);
        CHECK(s.reaches_a(s.s1, x1)); // a reply from the contacted endpoint always passes
        CHECK(s.reaches_a(s.s1_alt, x1) == e.s1_other_port_gets_in);
        CHECK(s.reaches_a(s.s3, x1) == e.s3_gets_in);
    }
}

TEST_CASE("open and firewall presets keep the host's address", "[sim][nat][preset]") {
    for (const char* name : {"open", "firewall"}) {
        INFO("preset " << name);
        network net(9);
        const nat_id gw = net.add_nat(nat_preset(name), ip("40.0.0.1"));
        peer a, s1;
        a.host = net.add_private_host(gw, ip("40.0.0.2"));
        s1.host = net.add_public_host(ip("30.0.0.1"));
        a.binding = &net.bind_udp(a.host, 5000, a.core);
        s1.binding = &net.bind_udp(s1.host, 3478, s1.core);
        s1.send({ip("40.0.0.2"), 5000}, "cold");
        net.run_for(std::chrono::seconds(1));
        CHECK((a.received() == 1) == (std::string(name) == "open"));
    }
}

TEST_CASE("preset lookup by name", "[sim][nat][preset]") {
    for (const auto name : nat_preset_names()) CHECK_NOTHROW(nat_preset(name));
    CHECK(nat_preset("symmetric").mapping == mapping_behavior::address_and_port_dependent);
    CHECK(nat_preset("udp-blocked").udp_blocked);
    CHECK_THROWS_AS(nat_preset("cone"), std::invalid_argument);
    CHECK_THROWS_WITH(nat_preset("cone"), Catch::Contains("unknown NAT preset 'cone'"));
}

TEST_CASE("the mix samples every preset roughly in proportion to its weight", "[sim][nat][preset]") {
    random_source rng(11);
    std::map<std::string, int> counts;
    const int n = 20000;
    for (int i = 0; i < n; ++i) ++counts[std::string(sample_mix(rng))];
    double total = 0;
    for (const auto& p : nat_mix()) total += p.weight;
    for (const auto& p : nat_mix()) {
        INFO(p.name);
        const double expected = n * p.weight / total;
        CHECK(std::abs(counts[std::string(p.name)] - expected) < 5 * std::sqrt(expected));
    }
    CHECK(counts.size() == nat_mix().size());
}

TEST_CASE("sites from presets get the right topology", "[sim][site]") {
    network net(13);
    address_plan plan;
    const site open = add_site(net, plan, "open");
    const site cg = add_site(net, plan, "cgnat");
    const site home = add_site(net, plan, "symmetric");
    const site mixed = add_site(net, plan, "mix");
    CHECK_FALSE(open.nat);
    CHECK(net.address(open.host).is_global());
    CHECK(cg.carrier);
    CHECK(net.address(cg.host).is_private());
    CHECK(home.nat);
    CHECK_FALSE(home.carrier);
    CHECK(mixed.preset != "mix");
    CHECK_THROWS_AS(add_site(net, plan, "nope"), std::invalid_argument);
}

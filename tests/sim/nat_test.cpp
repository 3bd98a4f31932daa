// NAT behaviour knob by knob, as a reader of RFC 4787 would predict it: A behind the NAT
// sends to S1, S2; servers reply or send unsolicited; we check what arrives and from where.
#include "sim/nat_scene.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::sim;
using namespace ovl::sim::testing;
using namespace std::chrono_literals;

namespace {
nat_config with_mapping(mapping_behavior m) {
    nat_config c;
    c.mapping = m;
    return c;
}
nat_config with_filtering(filtering_behavior f) {
    nat_config c;
    c.filtering = f;
    return c;
}
} // namespace

TEST_CASE("endpoint-independent mapping reuses one external port for every destination", "[sim][nat]") {
    nat_scene s(with_mapping(mapping_behavior::endpoint_independent));
    const endpoint x1 = s.mapped_via(s.s1);
    const endpoint x2 = s.mapped_via(s.s2);
    CHECK(x1 == endpoint{ip("40.0.0.1"), 5000}); // port preserved
    CHECK(x2 == x1);
    CHECK(s.net.nat_state(s.gateway).live_mappings(s.net.now()) == 1);
}

TEST_CASE("address-dependent mapping shares a port per remote address only", "[sim][nat]") {
    nat_scene s(with_mapping(mapping_behavior::address_dependent));
    const endpoint x1 = s.mapped_via(s.s1);
    const endpoint x1_alt = s.mapped_via(s.s1_alt);
    const endpoint x2 = s.mapped_via(s.s2);
    CHECK(x1_alt == x1);
    CHECK(x2.address == x1.address);
    CHECK(x2.port != x1.port);
}

TEST_CASE("address-and-port-dependent mapping gives each remote endpoint its own port", "[sim][nat]") {
    nat_scene s(with_mapping(mapping_behavior::address_and_port_dependent));
    const endpoint x1 = s.mapped_via(s.s1);
    const endpoint x1_alt = s.mapped_via(s.s1_alt);
    const endpoint x2 = s.mapped_via(s.s2);
    CHECK(x1.port == 5000); // the first mapping still gets the preserved port
    CHECK(x1_alt.port != x1.port);
    CHECK(x2.port != x1.port);
    CHECK(x2.port != x1_alt.port);
    CHECK(s.mapped_via(s.s1) == x1); // and keeps it while alive
}

TEST_CASE("sequential port assignment steps by the configured delta", "[sim][nat]") {
    nat_config c = with_mapping(mapping_behavior::address_and_port_dependent);
    c.ports = port_assignment::sequential;
    c.port_delta = 2;
    nat_scene s(c);
    const endpoint x1 = s.mapped_via(s.s1);
    const endpoint x2 = s.mapped_via(s.s2);
    const endpoint x3 = s.mapped_via(s.s3);
    CHECK(x2.port == x1.port + 2);
    CHECK(x3.port == x2.port + 2);
}

TEST_CASE("random port assignment does not preserve the internal port", "[sim][nat]") {
    nat_config c;
    c.ports = port_assignment::random;
    nat_scene s(c);
    const endpoint x1 = s.mapped_via(s.s1);
    CHECK(x1.port != 5000);
    CHECK(x1.port >= c.port_min);
    CHECK(s.mapped_via(s.s2) == x1); // still endpoint-independent
}

TEST_CASE("a preserved port already taken falls back to another port", "[sim][nat]") {
    nat_scene s(nat_config{});
    peer b;
    b.host = s.net.add_private_host(s.gateway, ip("192.168.1.3"));
    s.bind(b, 5000);
    const endpoint xa = s.mapped_via(s.s1);
    b.send(nat_scene::at(s.s1));
    s.settle();
    const endpoint xb = s.s1.last_from();
    CHECK(xa.port == 5000);
    CHECK(xb.address == xa.address);
    CHECK(xb.port != 5000);
}

TEST_CASE("endpoint-independent filtering lets anyone use an existing mapping", "[sim][nat]") {
    nat_scene s(with_filtering(filtering_behavior::endpoint_independent));
    const endpoint x = s.mapped_via(s.s1);
    CHECK(s.reaches_a(s.s1, x));
    CHECK(s.reaches_a(s.s1_alt, x));
    CHECK(s.reaches_a(s.s3, x));
    CHECK(s.a.last_from() == nat_scene::at(s.s3));
    // No mapping on other ports, whatever the filter.
    CHECK_FALSE(s.reaches_a(s.s3, {x.address, static_cast<std::uint16_t>(x.port + 1)}));
    CHECK(s.net.stats().dropped_for(drop_reason::no_mapping) == 1);
}

TEST_CASE("address-dependent filtering admits any port of a contacted address", "[sim][nat]") {
    nat_scene s(with_filtering(filtering_behavior::address_dependent));
    const endpoint x = s.mapped_via(s.s1);
    CHECK(s.reaches_a(s.s1, x));
    CHECK(s.reaches_a(s.s1_alt, x));
    CHECK_FALSE(s.reaches_a(s.s3, x));
    CHECK(s.net.stats().dropped_for(drop_reason::nat_filtered) == 1);
}

TEST_CASE("address-and-port-dependent filtering admits only the contacted endpoint", "[sim][nat]") {
    nat_scene s(with_filtering(filtering_behavior::address_and_port_dependent));
    const endpoint x = s.mapped_via(s.s1);
    CHECK(s.reaches_a(s.s1, x));
    CHECK_FALSE(s.reaches_a(s.s1_alt, x));
    CHECK_FALSE(s.reaches_a(s.s3, x));
    CHECK(s.net.stats().dropped_for(drop_reason::nat_filtered) == 2);
}

TEST_CASE("unsolicited traffic before any mapping is dropped", "[sim][nat]") {
    nat_scene s(with_filtering(filtering_behavior::endpoint_independent));
    CHECK_FALSE(s.reaches_a(s.s1, {ip("40.0.0.1"), 5000}));
    CHECK(s.net.stats().dropped_for(drop_reason::no_mapping) == 1);
}

TEST_CASE("UDP mapping expires after the idle timeout unless outbound traffic refreshes it", "[sim][nat]") {
    nat_config c;
    c.udp_timeout = 30s;
    nat_scene s(c);
    const endpoint x = s.mapped_via(s.s1); // mapping made at t≈0, lives until t≈30 s
    s.net.run_for(20s);
    CHECK(s.reaches_a(s.s1, x)); // inbound does not refresh...
    s.net.run_for(10s);
    CHECK_FALSE(s.reaches_a(s.s1, x)); // ...so it is gone 32 s after A last sent
    CHECK(s.net.stats().dropped_for(drop_reason::no_mapping) == 1);

    const endpoint y = s.mapped_via(s.s1);
    for (int i = 0; i < 4; ++i) {
        s.net.run_for(20s);
        s.a.send(nat_scene::at(s.s1)); // keepalive every ~21 s
        s.settle();
    }
    CHECK(s.reaches_a(s.s1, y));
}

TEST_CASE("inbound refresh keeps a mapping alive on replies alone when enabled", "[sim][nat]") {
    nat_config c;
    c.udp_timeout = 30s;
    c.inbound_refresh = true;
    nat_scene s(c);
    const endpoint x = s.mapped_via(s.s1);
    for (int i = 0; i < 4; ++i) {
        s.net.run_for(20s);
        CHECK(s.reaches_a(s.s1, x));
    }
}

TEST_CASE("hairpinning delivers with the sender's external source, or drops when off", "[sim][nat]") {
    for (const bool hairpin : {true, false}) {
        nat_config c = with_filtering(filtering_behavior::endpoint_independent);
        c.hairpinning = hairpin;
        nat_scene s(c);
        peer b;
        b.host = s.net.add_private_host(s.gateway, ip("192.168.1.3"));
        s.bind(b, 6000);
        b.send(nat_scene::at(s.s1));
        s.settle();
        const endpoint xb = s.s1.last_from();
        const endpoint xa = s.mapped_via(s.s1);

        s.a.send(xb);
        s.settle();
        if (hairpin) {
            REQUIRE(b.received() == 1);
            CHECK(b.last_from() == xa);
        } else {
            CHECK(b.received() == 0);
            CHECK(s.net.stats().dropped_for(drop_reason::hairpin_disabled) == 1);
        }
    }
}

TEST_CASE("unsolicited inbound state makes a later mapping toward that peer change port", "[sim][nat]") {
    for (const bool creates_state : {true, false}) {
        nat_config c;
        c.inbound_creates_state = creates_state;
        nat_scene s(c);
        const endpoint x2 = s.mapped_via(s.s2);
        REQUIRE(x2.port == 5000);
        // S1's packet arrives before A ever talked to S1 (a punch that came too early).
        CHECK_FALSE(s.reaches_a(s.s1, x2));
        const endpoint x1 = s.mapped_via(s.s1);
        if (creates_state) {
            CHECK(x1.port != 5000);        // the collision moved A's port toward S1 only
            CHECK(s.mapped_via(s.s2) == x2);
            CHECK_FALSE(s.reaches_a(s.s1, x2)); // so S1's punches at the old port keep failing
            CHECK(s.reaches_a(s.s1, x1));
        } else {
            CHECK(x1 == x2);
            CHECK(s.reaches_a(s.s1, x2));
        }
    }
}

TEST_CASE("a short-TTL opening packet opens its sender's NAT and dies before the far NAT", "[sim][nat]") {
    // Two port-collision routers (no input filter): B opens first, then A answers. With a
    // full TTL, B's opening packet reaches A's router ahead of A's own packet, takes the
    // tuple, and A's packet leaves from another port, which B's filter refuses.
    for (const std::uint8_t opening_ttl : {std::uint8_t{5}, std::uint8_t{64}}) {
        INFO("opening TTL " << int(opening_ttl));
        network net(11);
        const nat_config c = nat_preset("port-collision");
        peer a, b;
        a.host = net.add_private_host(net.add_nat(c, ip("40.0.0.1")), ip("192.168.1.2"));
        b.host = net.add_private_host(net.add_nat(c, ip("50.0.0.1")), ip("192.168.2.2"));
        a.binding = &net.bind_udp(a.host, 5000, a.core);
        b.binding = &net.bind_udp(b.host, 6000, b.core);
        b.core.send_with_ttl(opening_ttl, {ip("40.0.0.1"), 5000}, "open");
        b.binding->poke();
        net.run_for(1s);
        CHECK(a.received() == 0);
        a.send({ip("50.0.0.1"), 6000}, "punch");
        net.run_for(1s);
        if (opening_ttl == 5) {
            CHECK(net.stats().dropped_for(drop_reason::ttl_expired) == 1);
            REQUIRE(b.received() == 1);
            CHECK(b.last_from() == endpoint{ip("40.0.0.1"), 5000});
        } else {
            CHECK(net.stats().dropped_for(drop_reason::ttl_expired) == 0);
            CHECK(b.received() == 0);
        }
    }
}

TEST_CASE("udp-blocked drops UDP both ways", "[sim][nat]") {
    nat_scene s(nat_preset("udp-blocked"));
    s.a.send(nat_scene::at(s.s1));
    s.settle();
    CHECK(s.s1.received() == 0);
    CHECK_FALSE(s.reaches_a(s.s1, {ip("40.0.0.1"), 5000}));
    CHECK(s.net.stats().dropped_for(drop_reason::udp_blocked) == 2);
}

TEST_CASE("a stateful firewall keeps addresses but drops unsolicited inbound", "[sim][nat]") {
    network net(3);
    const nat_id fw = net.add_nat(nat_preset("firewall"), ip("40.0.0.1"));
    peer a, s1, s2;
    a.host = net.add_private_host(fw, ip("40.0.0.2"));
    s1.host = net.add_public_host(ip("30.0.0.1"));
    s2.host = net.add_public_host(ip("30.0.0.2"));
    a.binding = &net.bind_udp(a.host, 5000, a.core);
    s1.binding = &net.bind_udp(s1.host, 3478, s1.core);
    s2.binding = &net.bind_udp(s2.host, 3478, s2.core);
    const endpoint a_ep{ip("40.0.0.2"), 5000};

    s1.send(a_ep);
    net.run_for(1s);
    CHECK(a.received() == 0);

    a.send(s1.binding->local());
    net.run_for(1s);
    REQUIRE(s1.received() == 1);
    CHECK(s1.last_from() == a_ep); // no translation
    s1.send(a_ep);
    s2.send(a_ep);
    net.run_for(1s);
    REQUIRE(a.received() == 1);
    CHECK(a.last_from() == s1.binding->local());
    CHECK(net.stats().dropped_for(drop_reason::no_mapping) == 1);
    CHECK(net.stats().dropped_for(drop_reason::nat_filtered) == 1);
}

TEST_CASE("nested NAT: a home NAT inside a carrier-grade NAT", "[sim][nat]") {
    network net(5);
    const nat_id carrier = net.add_nat(nat_preset("cgnat"), ip("40.0.0.1"));
    const nat_id home = net.add_nat(nat_preset("port-restricted-cone"), ip("100.64.0.7"), {}, carrier);
    peer a, s1, s2;
    a.host = net.add_private_host(home, ip("192.168.1.2"));
    s1.host = net.add_public_host(ip("30.0.0.1"));
    s2.host = net.add_public_host(ip("30.0.0.2"));
    a.binding = &net.bind_udp(a.host, 5000, a.core);
    s1.binding = &net.bind_udp(s1.host, 3478, s1.core);
    s2.binding = &net.bind_udp(s2.host, 3478, s2.core);

    a.send(s1.binding->local());
    net.run_for(1s);
    REQUIRE(s1.received() == 1);
    const endpoint x = s1.last_from();
    CHECK(x.address == ip("40.0.0.1")); // only the carrier's address is visible
    CHECK(net.nat_state(home).live_mappings(net.now()) == 1);
    CHECK(net.nat_state(carrier).live_mappings(net.now()) == 1);

    s1.send(x, "reply");
    s2.send(x, "unsolicited");
    net.run_for(1s);
    REQUIRE(a.received() == 1);
    CHECK(a.core.inbox()[0].text() == "reply");
    CHECK(a.last_from() == s1.binding->local());
}

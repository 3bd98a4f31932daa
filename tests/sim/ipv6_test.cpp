// IPv6 beside IPv4 (issue 11): dual-stack hosts hold a global IPv6 address, one UDP binding
// serves both families, and a site's device forwards IPv6 untranslated through a stateful
// firewall while it keeps translating IPv4.
#include "sim/network.hpp"
#include "sim/recording_core.hpp"
#include "sim/site.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace ovl;
using namespace ovl::sim;
using namespace std::chrono_literals;

namespace {

ip_address ip(const char* text) { return *ip_address::parse(text); }

// A public dual-stack server (echo on port 3478 unless told otherwise) and one dual-stack
// client behind `preset` for IPv4 and `firewall6` for IPv6, both on 10 ms links.
struct dual_stack_scene {
    network net{7};
    address_plan plan;
    host_id server_host;
    site client;
    recording_core server, me;
    udp_binding* server_binding = nullptr;
    udp_binding* mine = nullptr;

    dual_stack_scene(std::string_view preset, const nat_config& firewall6) {
        server_host = net.add_public_host(plan.next_public(), make_link(10ms));
        net.add_ipv6(server_host, plan.next_public6());
        server_binding = &net.bind_udp(server_host, 3478, server);
        client = add_site(net, plan, preset, make_link(10ms), firewall6);
        mine = &net.bind_udp(client.host, 5000, me);
    }
    endpoint server6() const { return *server_binding->local6(); }
    endpoint client6() const { return *mine->local6(); }
    void client_sends(const endpoint& to) {
        me.send(to, "out");
        mine->poke();
        net.run_for(1s);
    }
    // `from` (a socket of the server's host) sends to the client's IPv6 endpoint; whether
    // it arrived.
    bool reaches_client6(recording_core& from, udp_binding& binding) {
        const std::size_t before = me.inbox().size();
        from.send(client6(), "in");
        binding.poke();
        net.run_for(1s);
        return me.inbox().size() > before;
    }
};

} // namespace

TEST_CASE("a datagram crosses between two public dual-stack hosts over IPv6", "[sim][ipv6]") {
    network net(1);
    address_plan plan;
    const host_id a = net.add_public_host(plan.next_public(), make_link(10ms));
    const host_id b = net.add_public_host(plan.next_public(), make_link(15ms));
    net.add_ipv6(a, plan.next_public6());
    net.add_ipv6(b, plan.next_public6());
    CHECK(net.address6(a) == ip("2001:db8:0:1::1"));
    CHECK(net.address6(b) == ip("2001:db8:0:2::1"));
    recording_core ca, cb;
    udp_binding& ba = net.bind_udp(a, 1000, ca);
    udp_binding& bb = net.bind_udp(b, 2000, cb);
    cb.set_echo(true);
    REQUIRE(bb.local6());
    CHECK(*bb.local6() == endpoint{ip("2001:db8:0:2::1"), 2000});

    ca.send(*bb.local6(), "ping6");
    ca.send(bb.local(), "ping4");
    ba.poke();
    net.run_for(1s);

    // Same links, same latency for both families; each datagram carries its own family.
    REQUIRE(cb.inbox().size() == 2);
    CHECK(cb.inbox()[0].text() == "ping6");
    CHECK(cb.inbox()[0].from == endpoint{ip("2001:db8:0:1::1"), 1000});
    CHECK(cb.inbox()[0].at == network::epoch + 25ms);
    CHECK(cb.inbox()[1].from == endpoint{ip("20.0.0.1"), 1000});
    CHECK(cb.inbox()[1].at == network::epoch + 25ms);
    REQUIRE(ca.inbox().size() == 2);
    CHECK(ca.inbox()[0].from == *bb.local6());
    CHECK(ca.inbox()[0].at == network::epoch + 50ms);
    CHECK(net.stats().dropped_total() == 0);
}

TEST_CASE("a host without IPv6 has no route for an IPv6 datagram", "[sim][ipv6]") {
    network net(1);
    const host_id a = net.add_public_host(ip("20.0.0.1"));
    const host_id b = net.add_public_host(ip("20.0.0.2"));
    net.add_ipv6(b, ip("2001:db8:0:2::1"));
    recording_core ca, cb;
    udp_binding& ba = net.bind_udp(a, 1000, ca);
    net.bind_udp(b, 2000, cb);
    CHECK_FALSE(ba.local6());
    ca.send({ip("2001:db8:0:2::1"), 2000}, "no source");
    ba.poke();
    net.run_for(1s);
    CHECK(cb.inbox().empty());
    CHECK(net.stats().dropped_for(drop_reason::no_route) == 1);
}

TEST_CASE("a stateful IPv6 firewall drops unsolicited inbound and lets replies in", "[sim][ipv6]") {
    dual_stack_scene s("port-restricted-cone", nat_preset("firewall"));
    recording_core other;
    udp_binding& other_port = s.net.bind_udp(s.server_host, 3479, other);

    // Unsolicited: dropped at the firewall, as no mapping.
    CHECK_FALSE(s.reaches_client6(s.server, *s.server_binding));
    CHECK(s.net.stats().dropped_for(drop_reason::no_mapping) == 1);

    // After an outbound datagram, the reply comes in; the source was not translated.
    s.client_sends(s.server6());
    REQUIRE(s.server.inbox().size() == 1);
    CHECK(s.server.inbox()[0].from == s.client6());
    CHECK(s.reaches_client6(s.server, *s.server_binding));
    CHECK(s.me.inbox().back().from == s.server6());

    // Address-and-port-dependent: another port of the same host is still filtered.
    CHECK_FALSE(s.reaches_client6(other, other_port));
    CHECK(s.net.stats().dropped_for(drop_reason::nat_filtered) == 1);

    // The permission lapses with the UDP timeout (120 s, not refreshed by inbound).
    s.net.run_for(120s);
    CHECK_FALSE(s.reaches_client6(s.server, *s.server_binding));
}

TEST_CASE("IPv4 through a dual-stack site's NAT is translated as before", "[sim][ipv6]") {
    dual_stack_scene s("port-restricted-cone", nat_preset("firewall"));
    // An outbound IPv6 datagram opens nothing for IPv4.
    s.client_sends(s.server6());
    s.server.send({s.net.nat_state(*s.client.nat).external_ip(), 5000}, "in4");
    s.server_binding->poke();
    s.net.run_for(1s);
    CHECK(s.me.inbox().empty());

    s.client_sends(s.server_binding->local());
    REQUIRE(s.server.inbox().size() == 2);
    const endpoint mapped = s.server.inbox()[1].from;
    CHECK(mapped == endpoint{s.net.nat_state(*s.client.nat).external_ip(), 5000});
    CHECK(s.net.address(s.client.host).is_private());
    s.server.send(mapped, "in4");
    s.server_binding->poke();
    s.net.run_for(1s);
    REQUIRE(s.me.inbox().size() == 1);
    CHECK(s.me.inbox()[0].from == s.server_binding->local());
    // Each family keeps its own state in the device.
    CHECK(s.net.ipv6_firewall_state(*s.client.nat).live_mappings(s.net.now()) == 1);
    CHECK(s.net.nat_state(*s.client.nat).live_mappings(s.net.now()) == 1);
}

TEST_CASE("an open IPv6 side takes unsolicited inbound, a blocked one drops all UDP", "[sim][ipv6]") {
    SECTION("open, behind a symmetric IPv4 NAT") {
        dual_stack_scene s("symmetric", nat_preset("open"));
        CHECK(s.reaches_client6(s.server, *s.server_binding));
    }
    SECTION("UDP blocked") {
        nat_config blocked = nat_preset("firewall");
        blocked.udp_blocked = true;
        dual_stack_scene s("port-restricted-cone", blocked);
        s.client_sends(s.server6());
        CHECK(s.server.inbox().empty());
        CHECK(s.net.stats().dropped_for(drop_reason::udp_blocked) == 1);
        // IPv4 still works.
        s.client_sends(s.server_binding->local());
        CHECK(s.server.inbox().size() == 1);
    }
}

TEST_CASE("behind a carrier-grade NAT, IPv6 passes the carrier and the home firewall", "[sim][ipv6]") {
    dual_stack_scene s("cgnat", nat_preset("firewall"));
    REQUIRE(s.client.carrier);
    CHECK_FALSE(s.reaches_client6(s.server, *s.server_binding));
    s.client_sends(s.server6());
    REQUIRE(s.server.inbox().size() == 1);
    CHECK(s.server.inbox()[0].from == s.client6());
    CHECK(s.reaches_client6(s.server, *s.server_binding));
}

TEST_CASE("hosts behind one NAT reach each other's IPv6 on their LAN", "[sim][ipv6]") {
    network net(1);
    const nat_id home = net.add_nat(nat_preset("symmetric"), ip("40.0.0.1"), make_link(30ms));
    net.enable_ipv6(home, nat_preset("firewall"));
    const host_id a = net.add_private_host(home, ip("192.168.1.2"), make_link(1ms));
    const host_id b = net.add_private_host(home, ip("192.168.1.3"), make_link(1ms));
    net.add_ipv6(a, ip("2001:db8:1:0::2"));
    net.add_ipv6(b, ip("2001:db8:1:0::3"));
    recording_core ca, cb;
    udp_binding& ba = net.bind_udp(a, 1000, ca);
    net.bind_udp(b, 1000, cb);
    ca.send({ip("2001:db8:1:0::3"), 1000}, "lan");
    ba.poke();
    net.run_for(1s);
    REQUIRE(cb.inbox().size() == 1);
    CHECK(cb.inbox()[0].at == network::epoch + 2ms); // never crossed the NAT's uplink
}

TEST_CASE("TCP connects over IPv6 through a stateful firewall", "[sim][ipv6][tcp]") {
    dual_stack_scene s("port-restricted-cone", nat_preset("firewall"));
    tcp_connection* accepted = nullptr;
    s.net.tcp_listen(s.server_host, 80, [&](tcp_connection& c) { accepted = &c; });
    tcp_connection& c = s.net.tcp_connect(s.client.host, 40000, {s.server6().address, 80});
    s.net.run_for(1s);
    CHECK(c.established());
    CHECK(c.local() == endpoint{s.client6().address, 40000});
    REQUIRE(accepted);
    CHECK(accepted->local() == endpoint{s.server6().address, 80});
    CHECK(accepted->remote() == c.local());
}

TEST_CASE("IPv6 configuration mistakes are refused", "[sim][ipv6]") {
    network net(1);
    address_plan plan;
    const nat_id home = net.add_nat(nat_preset("port-restricted-cone"), ip("40.0.0.1"));
    const host_id inside = net.add_private_host(home, ip("192.168.1.2"));
    // IPv6 has no NAT.
    CHECK_THROWS_AS(net.enable_ipv6(home, nat_preset("port-restricted-cone")), std::invalid_argument);
    // The NAT does not forward IPv6 yet.
    CHECK_THROWS_AS(net.add_ipv6(inside, plan.next_public6()), std::invalid_argument);
    net.enable_ipv6(home, nat_preset("firewall"));
    CHECK_THROWS_AS(net.add_ipv6(inside, ip("fd00::1")), std::invalid_argument);
    CHECK_THROWS_AS(net.add_ipv6(inside, ip("20.0.0.9")), std::invalid_argument);
    net.add_ipv6(inside, ip("2001:db8:1::1"));
    const host_id pub = net.add_public_host(ip("20.0.0.1"));
    CHECK_THROWS_AS(net.add_ipv6(pub, ip("2001:db8:1::1")), std::invalid_argument);
}

TEST_CASE("a public dual-stack host has no device to filter its IPv6", "[sim][ipv6]") {
    // Also with a firewall asked for: an "open" site (which "mix" may draw) has no router.
    dual_stack_scene s("open", nat_preset("firewall"));
    CHECK_FALSE(s.client.nat);
    CHECK(s.reaches_client6(s.server, *s.server_binding));
}

TEST_CASE("a dual-stack scenario replays byte for byte from its seed", "[sim][ipv6][determinism]") {
    // Dual-stack sites of mixed kinds ping a dual-stack server over both families, on
    // jittery, lossy links.
    auto run = [](std::uint64_t seed) {
        network net(seed);
        std::string log;
        net.log_to(log);
        address_plan plan;
        const link_params lossy = make_link(20ms, 15ms, 0.1);
        const host_id server = net.add_public_host(plan.next_public(), lossy);
        net.add_ipv6(server, plan.next_public6());
        recording_core echo;
        echo.set_echo(true);
        udp_binding& server_binding = net.bind_udp(server, 6881, echo);
        std::vector<std::unique_ptr<recording_core>> cores;
        std::vector<udp_binding*> bindings;
        for (int i = 0; i < 6; ++i) {
            const site s = add_site(net, plan, i % 2 ? "symmetric" : "mix", lossy, nat_preset("firewall"));
            cores.push_back(std::make_unique<recording_core>());
            bindings.push_back(&net.bind_udp(s.host, 4000, *cores.back()));
        }
        for (int round = 0; round < 3; ++round) {
            for (std::size_t i = 0; i < cores.size(); ++i) {
                cores[i]->send(server_binding.local(), "v4");
                cores[i]->send(*server_binding.local6(), "v6");
                bindings[i]->poke();
            }
            net.run_for(1s);
        }
        return log;
    };
    const std::string first = run(42);
    CHECK(first.find("[2001:db8:") != std::string::npos);
    CHECK(first.find("drop:loss") != std::string::npos);
    CHECK(first == run(42));
    CHECK(first != run(43));
}

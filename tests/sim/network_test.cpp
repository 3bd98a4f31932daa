#include "sim/network.hpp"
#include "sim/recording_core.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::sim;
using namespace std::chrono_literals;

namespace {
ip_address ip(const char* text) { return *ip_address::parse(text); }
} // namespace

TEST_CASE("public hosts exchange datagrams after link latency", "[sim][network]") {
    network net(1);
    const host_id a = net.add_public_host(ip("20.0.0.1"), make_link(10ms));
    const host_id b = net.add_public_host(ip("20.0.0.2"), make_link(15ms));
    recording_core ca, cb;
    udp_binding& ba = net.bind_udp(a, 1000, ca);
    net.bind_udp(b, 2000, cb);
    cb.set_echo(true);

    ca.send({ip("20.0.0.2"), 2000}, "ping");
    ba.poke();
    net.run_for(1s);

    REQUIRE(cb.inbox().size() == 1);
    CHECK(cb.inbox()[0].text() == "ping");
    CHECK(cb.inbox()[0].from == endpoint{ip("20.0.0.1"), 1000});
    CHECK(cb.inbox()[0].at == network::epoch + 25ms);
    REQUIRE(ca.inbox().size() == 1);
    CHECK(ca.inbox()[0].at == network::epoch + 50ms);
    CHECK(net.stats().sent == 2);
    CHECK(net.stats().delivered == 2);
    CHECK(net.stats().dropped_total() == 0);
}

TEST_CASE("timers fire at the core's deadline and stale ones are ignored", "[sim][network]") {
    network net(1);
    const host_id a = net.add_public_host(ip("20.0.0.1"));
    recording_core c;
    c.set_deadline(network::epoch + 5s);
    udp_binding& b = net.bind_udp(a, 1, c);
    c.set_deadline(network::epoch + 2s);
    b.poke();
    net.run_for(10s);
    REQUIRE(c.timeouts().size() == 1);
    CHECK(c.timeouts()[0] == network::epoch + 2s);
    CHECK(net.stats().timers == 1);
}

TEST_CASE("unbound port and killed host drop with their reasons", "[sim][network]") {
    network net(1);
    const host_id a = net.add_public_host(ip("20.0.0.1"));
    const host_id b = net.add_public_host(ip("20.0.0.2"));
    recording_core ca, cb;
    udp_binding& ba = net.bind_udp(a, 1, ca);
    net.bind_udp(b, 2, cb);
    ca.send({ip("20.0.0.2"), 3}, "closed port");
    ca.send({ip("20.0.0.9"), 2}, "nobody");
    ba.poke();
    net.run_for(1s);
    CHECK(net.stats().dropped_for(drop_reason::no_listener) == 1);
    CHECK(net.stats().dropped_for(drop_reason::no_route) == 1);

    net.kill_host(b);
    ca.send({ip("20.0.0.2"), 2}, "dead");
    ba.poke();
    net.run_for(1s);
    CHECK(cb.inbox().empty());
    CHECK(net.stats().dropped_for(drop_reason::host_dead) == 1);
}

TEST_CASE("run_until with a predicate stops as soon as it holds", "[sim][network]") {
    network net(1);
    const host_id a = net.add_public_host(ip("20.0.0.1"), make_link(10ms));
    const host_id b = net.add_public_host(ip("20.0.0.2"), make_link(10ms));
    recording_core ca, cb;
    udp_binding& ba = net.bind_udp(a, 1, ca);
    net.bind_udp(b, 2, cb);
    ca.send({ip("20.0.0.2"), 2}, "x");
    ba.poke();
    CHECK(net.run_until([&] { return !cb.inbox().empty(); }, network::epoch + 1s));
    CHECK(net.now() == network::epoch + 20ms);
    CHECK_FALSE(net.run_until([&] { return !ca.inbox().empty(); }, network::epoch + 2s));
    CHECK(net.now() == network::epoch + 2s);
}

TEST_CASE("extra sockets get their own ports, deliver replies, and close when released", "[sim][network]") {
    network net(1);
    const host_id a = net.add_public_host(ip("20.0.0.1"));
    const host_id b = net.add_public_host(ip("20.0.0.2"));
    recording_core ca, cb;
    udp_binding& ba = net.bind_udp(a, 1000, ca);
    udp_binding& bb = net.bind_udp(b, 2000, cb);
    cb.set_echo(true);

    ca.send_from(1, {ip("20.0.0.2"), 2000}, "one");
    ca.send_from(2, {ip("20.0.0.2"), 2000}, "two");
    ca.send_from(1, {ip("20.0.0.2"), 2000}, "one again");
    ba.poke();
    net.run_for(1s);

    REQUIRE(cb.inbox().size() == 3);
    CHECK(cb.inbox()[0].from == endpoint{ip("20.0.0.1"), 49152});
    CHECK(cb.inbox()[1].from == endpoint{ip("20.0.0.1"), 49153});
    CHECK(cb.inbox()[2].from == endpoint{ip("20.0.0.1"), 49152});
    REQUIRE(ca.inbox().size() == 3);
    CHECK(ca.inbox()[0].socket == 1);
    CHECK(ca.inbox()[1].socket == 2);
    CHECK(ca.inbox()[1].text() == "two");

    // Released: the echo to it finds no listener, and the port is free again.
    ca.release(1);
    ba.poke();
    cb.send({ip("20.0.0.1"), 49152}, "late");
    bb.poke();
    net.run_for(1s);
    CHECK(ca.inbox().size() == 3);
    CHECK(net.stats().dropped_for(drop_reason::no_listener) == 1);
    ca.send_from(3, {ip("20.0.0.2"), 2000}, "three");
    ba.poke();
    net.run_for(1s);
    CHECK(cb.inbox().back().from == endpoint{ip("20.0.0.1"), 49152});
}

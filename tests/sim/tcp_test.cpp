// TCP as NATs see it (RFC 5382): handshakes, simultaneous open through two NATs, resets
// from closed ports, and unsolicited SYNs dropped by a NAT.
#include "sim/nat_scene.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::sim;
using namespace ovl::sim::testing;
using namespace std::chrono_literals;

TEST_CASE("connect to a public listener completes the handshake and carries data", "[sim][tcp]") {
    network net(1);
    const nat_id home = net.add_nat(nat_preset("port-restricted-cone"), ip("40.0.0.1"));
    const host_id client = net.add_private_host(home, ip("192.168.1.2"));
    const host_id server = net.add_public_host(ip("30.0.0.1"));
    tcp_connection* accepted = nullptr;
    std::string received;
    net.tcp_listen(server, 80, [&](tcp_connection& c) {
        accepted = &c;
        c.on_data = [&](bytes_view b) { received.assign(b.begin(), b.end()); };
    });
    tcp_connection& c = net.tcp_connect(client, 40000, {ip("30.0.0.1"), 80});
    bool connected = false;
    c.on_connected = [&] { connected = true; };
    net.run_for(1s);

    CHECK(connected);
    CHECK(c.established());
    REQUIRE(accepted);
    CHECK(accepted->established());
    CHECK(accepted->remote() == endpoint{ip("40.0.0.1"), 40000}); // translated, port kept
    c.send(bytes{'h', 'i'});
    net.run_for(1s);
    CHECK(received == "hi");
}

TEST_CASE("simultaneous open between two port-preserving NATs succeeds", "[sim][tcp]") {
    // b_delay 0: the SYNs cross mid-path. 200 ms: A's SYN reaches B's NAT before B has sent
    // anything and is dropped there; B's SYN then finds A's NAT open and lands in SYN_SENT.
    for (const auto b_delay : {0ms, 200ms}) {
        INFO("B dials after " << b_delay.count() << " ms");
        network net(2);
        const nat_id na = net.add_nat(nat_preset("port-restricted-cone"), ip("40.0.0.1"), make_link(10ms));
        const nat_id nb = net.add_nat(nat_preset("port-restricted-cone"), ip("50.0.0.1"), make_link(30ms));
        const host_id a = net.add_private_host(na, ip("192.168.1.2"));
        const host_id b = net.add_private_host(nb, ip("192.168.7.9"));
        // Each side learned the other's public endpoint from an introducer; both listen on
        // the port they connect from (SO_REUSEADDR), as a torrent client does.
        net.tcp_listen(a, 6881, nullptr);
        net.tcp_listen(b, 6881, nullptr);
        tcp_connection& ca = net.tcp_connect(a, 6881, {ip("50.0.0.1"), 6881});
        net.run_for(b_delay);
        tcp_connection& cb = net.tcp_connect(b, 6881, {ip("40.0.0.1"), 6881});
        net.run_for(2s);

        CHECK(ca.established());
        CHECK(cb.established());
        CHECK(ca.saw_syn());
        CHECK(net.stats().dropped_for(drop_reason::no_mapping) == (b_delay == 0ms ? 0 : 1));
    }
}

TEST_CASE("an unsolicited SYN to a NATed host is dropped silently", "[sim][tcp]") {
    network net(3);
    const nat_id home = net.add_nat(nat_preset("full-cone"), ip("40.0.0.1"));
    const host_id inside = net.add_private_host(home, ip("192.168.1.2"));
    const host_id outside = net.add_public_host(ip("30.0.0.1"));
    bool accepted = false;
    net.tcp_listen(inside, 6881, [&](tcp_connection&) { accepted = true; });
    tcp_connection& c = net.tcp_connect(outside, 5555, {ip("40.0.0.1"), 6881});
    bool reset = false;
    c.on_reset = [&] { reset = true; };
    net.run_for(5s);
    CHECK_FALSE(accepted);
    CHECK_FALSE(reset); // no RST: the NAT stays silent (RFC 5382 REQ-4)
    CHECK(c.current() == tcp_connection::state::syn_sent);
    CHECK(net.stats().dropped_for(drop_reason::no_mapping) == 1);
}

TEST_CASE("a SYN to a public host's closed port gets RST", "[sim][tcp]") {
    network net(4);
    const host_id client = net.add_public_host(ip("20.0.0.1"));
    const host_id server = net.add_public_host(ip("30.0.0.1"));
    net.tcp_listen(server, 80, nullptr);
    tcp_connection& c = net.tcp_connect(client, 40000, {ip("30.0.0.1"), 81});
    bool reset = false;
    c.on_reset = [&] { reset = true; };
    net.run_for(1s);
    CHECK(reset);
    CHECK(c.current() == tcp_connection::state::closed);
    CHECK(net.stats().dropped_for(drop_reason::no_listener) == 1);
}

TEST_CASE("TCP mappings use the transitory timeout until established", "[sim][tcp][nat]") {
    nat_config cfg;
    cfg.tcp_transitory_timeout = 10s;
    cfg.tcp_established_timeout = 100s;
    nat table(cfg, ip("40.0.0.1"));
    random_source rng(1);
    const endpoint in{ip("192.168.1.2"), 5000};
    const endpoint peer{ip("30.0.0.1"), 80};
    const timestamp t0 = network::epoch;

    const translation out = table.outbound(t0, protocol::tcp, tcp_flag::syn, in, peer, rng);
    REQUIRE(out.ok());
    CHECK(table.live_mappings(t0 + 9s) == 1);
    CHECK(table.live_mappings(t0 + 11s) == 0); // SYN alone: transitory

    const timestamp t1 = t0 + 20s;
    REQUIRE(table.outbound(t1, protocol::tcp, tcp_flag::syn, in, peer, rng).ok());
    const translation synack =
        table.inbound(t1 + 1s, protocol::tcp, tcp_flag::syn | tcp_flag::ack, peer, {ip("40.0.0.1"), 5000});
    REQUIRE(synack.ok());
    CHECK(synack.ep == in);
    CHECK(table.live_mappings(t1 + 60s) == 1); // established: long timeout
    CHECK(table.live_mappings(t1 + 102s) == 0);

    const timestamp t2 = t1 + 200s;
    REQUIRE(table.outbound(t2, protocol::tcp, tcp_flag::syn, in, peer, rng).ok());
    REQUIRE(table.inbound(t2, protocol::tcp, tcp_flag::syn | tcp_flag::ack, peer, {ip("40.0.0.1"), 5000}).ok());
    REQUIRE(table.outbound(t2, protocol::tcp, tcp_flag::rst, in, peer, rng).ok());
    CHECK(table.live_mappings(t2 + 11s) == 0); // RST drops it back to transitory
}

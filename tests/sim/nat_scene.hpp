// The textbook NAT test bench (RFC 4787 section 4 figures): host A at 192.168.1.2:5000
// behind one NAT at 40.0.0.1, and servers S1 (30.0.0.1, ports 3478 and 3479), S2
// (30.0.0.2:3478) and S3 (30.0.0.3:3478) on the internet. Each helper runs the network
// for a second so every packet has landed.
#pragma once

#include "sim/network.hpp"
#include "sim/recording_core.hpp"

#include <chrono>
#include <optional>

namespace ovl::sim::testing {

inline ip_address ip(const char* text) { return *ip_address::parse(text); }

struct peer {
    host_id host;
    recording_core core;
    udp_binding* binding = nullptr;

    void send(const endpoint& to, std::string_view text = "x") {
        core.send(to, text);
        binding->poke();
    }
    std::size_t received() const { return core.inbox().size(); }
    // Where the last datagram came from, as this peer saw it.
    endpoint last_from() const { return core.inbox().back().from; }
};

struct nat_scene {
    network net{7};
    nat_id gateway;
    peer a, s1, s1_alt, s2, s3;

    explicit nat_scene(const nat_config& config) {
        gateway = net.add_nat(config, ip("40.0.0.1"));
        a.host = net.add_private_host(gateway, ip("192.168.1.2"));
        const host_id h1 = net.add_public_host(ip("30.0.0.1"));
        s1.host = s1_alt.host = h1;
        s2.host = net.add_public_host(ip("30.0.0.2"));
        s3.host = net.add_public_host(ip("30.0.0.3"));
        bind(a, 5000);
        bind(s1, 3478);
        bind(s1_alt, 3479);
        bind(s2, 3478);
        bind(s3, 3478);
    }
    nat_scene(const nat_scene&) = delete;

    void bind(peer& p, std::uint16_t port) { p.binding = &net.bind_udp(p.host, port, p.core); }
    void settle() { net.run_for(std::chrono::seconds(1)); }

    static endpoint at(const peer& p) { return p.binding->local(); }
    // A's mapped endpoint as seen by `server`, after A sends to it.
    endpoint mapped_via(peer& server) {
        a.send(at(server));
        settle();
        return server.last_from();
    }
    // `server` sends to `to` and reports whether A received it.
    bool reaches_a(peer& server, const endpoint& to) {
        const std::size_t before = a.received();
        server.send(to);
        settle();
        return a.received() > before;
    }
};

} // namespace ovl::sim::testing

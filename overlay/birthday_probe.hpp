// Many-socket ("birthday") probing, for a pair where exactly one side's NAT gives each
// destination a new, randomly chosen port (symmetric, not sequential) and the other maps
// endpoint-independently. A plain punch cannot work there: the random side's mapping
// toward the peer has a port nobody can predict, and the peer's NAT filters everything
// it did not write to.
//
// The random side opens many extra sockets and sends one probe from each to the peer's
// public endpoint, so its NAT holds that many mappings toward it (each admitting only
// the peer's endpoint). The other side sends probes from its one socket to random ports
// of the random side's public address, which also opens its own filter for each. The
// first probe that lands on a live mapping gets through both NATs, and its ack too. The
// random side's probes carry a short TTL: they need to reach only its own NAT.
// With n mappings and k probes over the 64,512 non-privileged ports, the chance that
// none meets is (1 - n/64512)^k: for 256 and 2048, about 3 in 10,000.
#pragma once

#include "dht/base/datagram.hpp"
#include "dht/base/random.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_set>

namespace ovl::overlay {

class birthday_probe {
public:
    enum class role {
        many_sockets, // our NAT randomises: open sockets toward the peer's endpoint
        spray,        // the peer's NAT randomises: probe random ports of its address
    };

    struct settings {
        std::uint16_t sockets = 256;
        std::uint16_t spray_probes = 2048;
        // Probes per round (rounds are the punch interval apart), so neither side floods
        // its NAT or the link in one burst.
        std::uint16_t per_round = 128;
        // Each socket probes once more this long after its first, in case the first was
        // lost before it reached the NAT.
        duration resend_after = std::chrono::seconds(1);
        // The spray starts this much later than the sockets would, so that most of the
        // sprayed ports already hold a mapping when the probes arrive.
        duration spray_delay = std::chrono::milliseconds(100);
        // IP TTL of the many-socket side's probes: past our own NAT (and a carrier NAT or
        // two behind it), short of the peer's across the internet (HyperDHT uses 5 too).
        // 0 sends them with the socket's default TTL.
        std::uint8_t opening_ttl = 5;
    };

    // many_sockets: `peer` is the peer's public endpoint, and sockets first_socket..
    // first_socket+sockets-1 are ours. spray: `peer`'s address is probed, its port ignored.
    birthday_probe(role r, bytes probe, endpoint peer, std::uint16_t first_socket, settings s,
                   random_source rng, duration interval, timestamp now);

    void on_timeout(timestamp now);
    // The probe met: no more datagrams.
    void stop() { stopped_ = true; outbox_.clear(); }
    std::optional<outgoing_datagram> poll_transmit();
    std::optional<timestamp> next_deadline() const;

    role which() const { return role_; }
    std::uint16_t first_socket() const { return first_socket_; }
    std::uint16_t socket_count() const { return role_ == role::many_sockets ? settings_.sockets : 0; }
    int probes_sent() const { return probes_sent_; }

private:
    void send_round(timestamp now);
    std::uint16_t random_port();

    role role_;
    bytes probe_;
    endpoint peer_;
    std::uint16_t first_socket_;
    settings settings_;
    random_source rng_;
    duration interval_;
    timestamp next_round_;
    // many_sockets: sockets opened so far, and when the first of them was opened.
    std::uint16_t opened_ = 0;
    std::uint16_t resent_ = 0;
    timestamp started_;
    std::unordered_set<std::uint16_t> tried_;
    std::deque<outgoing_datagram> outbox_;
    int probes_sent_ = 0;
    bool stopped_ = false;
};

} // namespace ovl::overlay

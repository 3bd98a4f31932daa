// The contract every sans-I/O protocol core offers to whoever owns the sockets and the
// clock (the Asio edge, the simulator, the libtorrent plugin): datagrams and time go in,
// datagrams to send and the next deadline come out. Shaped after ngtcp2.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/time.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace ovl {

using bytes = std::vector<std::uint8_t>;
using bytes_view = std::span<const std::uint8_t>;

struct outgoing_datagram {
    endpoint to;
    bytes payload;
    // Send from a second local port instead of the core's own socket. Replies to it are
    // not delivered. Dial-back probes use it: a packet from a port the receiver never
    // wrote to is what tests the receiver's NAT filtering.
    bool from_secondary_port = false;
    // Which local socket sends it: 0 is the core's own; n >= 1 names an extra socket the
    // host opens on first use (same address, an ephemeral port) and keeps until the core
    // releases it. Replies to an extra socket come back through on_extra_datagram. Many-
    // socket ("birthday") hole punching uses them.
    std::uint16_t socket = 0;
    // IP TTL (IPv6 hop limit) for this datagram; 0 keeps the socket's default. Opening
    // packets of a punch use a small one: enough to create our own NAT's mapping, too
    // little to reach the peer's NAT, where an unsolicited packet can take the very tuple
    // the peer's reply needs.
    std::uint8_t ttl = 0;
};

class datagram_core {
public:
    virtual ~datagram_core() = default;

    // A datagram arrived on the core's socket from `from`.
    virtual void on_datagram(timestamp now, const endpoint& from, bytes_view payload) = 0;
    // Next datagram to send, or nullopt when the queue is empty. Call until empty after
    // every other call.
    virtual std::optional<outgoing_datagram> poll_transmit() = 0;
    // When on_timeout must next be called; nullopt when nothing is scheduled.
    virtual std::optional<timestamp> next_deadline() const = 0;
    // Time passed; the core runs whatever is due at `now`.
    virtual void on_timeout(timestamp now) = 0;

    // A datagram arrived on extra socket `socket` (see outgoing_datagram::socket).
    virtual void on_extra_datagram(timestamp, std::uint16_t /*socket*/, const endpoint&, bytes_view) {}
    // An extra socket the core no longer needs; the host closes it. Call until empty after
    // poll_transmit. A released number may be used again later for a fresh socket.
    virtual std::optional<std::uint16_t> poll_released_socket() { return std::nullopt; }
};

} // namespace ovl

// Datagrams over TCP, for networks that block UDP: each datagram travels as a frame
// ([length: u16 big-endian][bytes]) on a TCP connection to the same IP:port the UDP
// datagram was meant for. overlay-node serves it on its TCP port (same number as its UDP
// port) and answers over the connection a datagram came in on; a client behind a
// UDP-blocking firewall dials overlay nodes this way and reaches everything else through
// their relays. Runs its own thread so the UDP loop never waits on a connect.
#pragma once

#include "dht/base/datagram.hpp"
#include "dht/base/log.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace ovl::cli {

class tcp_tunnel {
public:
    // Called on the tunnel's thread with the frames of one read from `from`, in order.
    using deliver_fn = std::function<void(const endpoint& from, std::vector<bytes> frames)>;

    tcp_tunnel(deliver_fn deliver, logger_ptr log);
    ~tcp_tunnel();
    tcp_tunnel(const tcp_tunnel&) = delete;
    tcp_tunnel& operator=(const tcp_tunnel&) = delete;

    // Accepts connections on `bind_to`; throws std::system_error when it cannot bind.
    void listen(const endpoint& bind_to);
    // True when a connection to (or from) `to` is open or being opened.
    bool connected(const endpoint& to) const;
    // Queues a frame for `to`. Without a connection, dials one when `dial` is set and
    // drops the frame otherwise. Frames over 65,535 bytes, or beyond the queue limits (of
    // frames not yet taken by the tunnel's thread, and of bytes a connection holds while
    // the kernel's send buffer is full), are dropped (they were datagrams: loss is allowed).
    void send(const endpoint& to, bytes payload, bool dial);

    struct frame {
        endpoint to;
        bytes payload;
        bool dial = false;
    };
    // send() for a burst, which it empties: frames to open connections are written from the
    // calling thread, one system call per connection (and per 64 KiB), not handed to the
    // tunnel's thread; the rest go to that thread as above.
    void send(std::vector<frame>& frames);

    // TCP simultaneous open: connects to `remote` from local port `port`, or, with `via`,
    // from the local port of the connection to `via` (whose NAT mapping the introducer
    // saw), retrying for `wait` while the peer connects toward us. On success the
    // connection carries frames to and from `remote` like any other. `done` runs on the
    // tunnel's thread.
    void punch(const endpoint& remote, std::optional<endpoint> via, std::uint16_t port, duration wait,
               std::function<void(bool ok)> done);

    std::uint64_t accepted() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace ovl::cli

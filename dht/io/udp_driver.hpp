// The Boost.Asio edge for any sans-I/O core: one io_context, one UDP socket (two for a
// dual-stack core: one per address family) and one timer. Received datagrams and timer expiries go into the core; after every call (for
// datagrams: every batch, read with recvmmsg) the driver drains the core's outgoing
// datagrams, sending them in batches with sendmmsg (Linux), and re-arms the timer at its
// deadline. Asio stays behind a pimpl so that cores and CLI code compile without it.
#pragma once

#include "dht/base/datagram.hpp"
#include "dht/base/endpoint.hpp"
#include "dht/base/log.hpp"
#include "dht/base/time.hpp"

#include <functional>
#include <memory>
#include <optional>

namespace ovl::io {

// The current instant in the cores' time base (steady_clock).
timestamp steady_now();

class udp_driver {
public:
    // Binds the socket at once; throws std::system_error when the address cannot be bound
    // (a startup error the caller reports, never something the hot path raises).
    udp_driver(datagram_core& core, const endpoint& bind_to, logger_ptr log);
    ~udp_driver();
    udp_driver(const udp_driver&) = delete;
    udp_driver& operator=(const udp_driver&) = delete;

    // The bound address, with the port the kernel chose when asked for port 0.
    endpoint local_endpoint() const;

    // Binds a socket of the other address family beside the first (a dual-stack DHT node,
    // BEP 32): datagrams to that family leave from it, and what it receives goes to the
    // core like the rest. Both families have a secondary (dial-back) socket; only the first
    // has extra sockets (many-socket punching is for IPv4 NATs).
    // Call before run(); throws std::system_error like the constructor, and
    // std::invalid_argument when `bind_to` is of the first socket's family.
    void add_family_socket(const endpoint& bind_to);
    // The bound address of the socket of `family`, if there is one.
    std::optional<endpoint> local_endpoint(ip_family family) const;

    // Runs the event loop on the calling thread until stop().
    void run();
    // Makes run() return; safe from any thread and from inside callbacks.
    void stop();

    // Runs `fn` on the loop thread with the current time, then flushes: the way for
    // callers to start lookups, announces or pings on the core. Safe from any thread.
    void post(std::function<void(timestamp now)> fn);
    // Runs `fn` on the loop thread once `delay` has passed, then flushes.
    void schedule(duration delay, std::function<void(timestamp now)> fn);
    // Calls `fn` on the loop thread when SIGINT or SIGTERM arrives (then flushes); the
    // callback decides how to shut down, typically by calling stop().
    void on_termination_signal(std::function<void(int signal)> fn);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace ovl::io

// A datagram_core bound to one UDP port of one simulated host. The network drives the core
// through it; tests hold it to poke the core after calling the core's own API directly.
#pragma once

#include "sim/ids.hpp"

#include "dht/base/datagram.hpp"
#include "dht/base/endpoint.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace ovl::sim {

// The port a core's datagrams marked from_secondary_port leave from.
inline std::uint16_t secondary_port(std::uint16_t port) { return static_cast<std::uint16_t>(port == 65535 ? 1024 : port + 1); }

class network;

// Cache-line aligned, with what every delivery and send reads first.
class alignas(64) udp_binding {
public:
    udp_binding(network& net, host_id host, endpoint local, datagram_core& core, std::uint32_t index)
        : core_(&core), host_(host), index_(index), local_(local), net_(&net) {}
    udp_binding(const udp_binding&) = delete;
    udp_binding& operator=(const udp_binding&) = delete;

    host_id host() const { return host_; }
    // The host's own address and port (a private address behind a NAT).
    const endpoint& local() const { return local_; }
    // The same port on the host's IPv6 address, if it has one: one binding takes both
    // families, and each datagram leaves from the address of its destination's family.
    std::optional<endpoint> local6() const;
    datagram_core& core() const { return *core_; }

    // Call after using the core's API directly: sends whatever it queued and re-reads its
    // deadline.
    void poke();

private:
    friend class network;

    datagram_core* core_;
    host_id host_;
    std::uint32_t index_;
    endpoint local_;
    std::uint32_t timer_generation_ = 0;
    // The deadline the queued timer event stands for; events of older generations are stale.
    std::optional<timestamp> scheduled_;
    network* net_;
    // The ports of the core's sockets: socket 0 on local_.port, extra sockets as opened.
    struct socket_port {
        std::uint16_t socket = 0;
        std::uint16_t port = 0;
    };
    std::vector<socket_port> ports_;
};

} // namespace ovl::sim

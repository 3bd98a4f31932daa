// One end of a simulated TCP connection, modelled only as far as NATs see it: SYN,
// SYN-ACK, ACK, RST and data segments. Enough for a normal handshake, simultaneous open
// through two NATs, and resets; no retransmission, windows or congestion control (a lost
// segment stays lost, as the link decides).
#pragma once

#include "sim/ids.hpp"

#include "dht/base/datagram.hpp"
#include "dht/base/endpoint.hpp"

#include <cstdint>
#include <functional>

namespace ovl::sim {

class network;

class tcp_connection {
public:
    enum class state { syn_sent, syn_received, established, closed };

    tcp_connection(network& net, std::uint32_t host_node, host_id host, endpoint local,
                   endpoint remote, state initial)
        : net_(&net), host_node_(host_node), host_(host), local_(local), remote_(remote),
          state_(initial) {}
    tcp_connection(const tcp_connection&) = delete;
    tcp_connection& operator=(const tcp_connection&) = delete;

    std::function<void()> on_connected;
    std::function<void(bytes_view)> on_data;
    std::function<void()> on_reset;

    state current() const { return state_; }
    bool established() const { return state_ == state::established; }
    host_id host() const { return host_; }
    const endpoint& local() const { return local_; }
    const endpoint& remote() const { return remote_; }
    // Whether any segment with SYN (a SYN or SYN-ACK) arrived from the peer.
    bool saw_syn() const { return saw_syn_; }

    // Sends one data segment; ignored unless established.
    void send(bytes data);
    // Sends RST and closes.
    void reset();

private:
    friend class network;

    network* net_;
    std::uint32_t host_node_;
    host_id host_;
    endpoint local_;
    endpoint remote_;
    state state_;
    bool saw_syn_ = false;
};

} // namespace ovl::sim

// An overlay_node on a real UDP socket: binds first, then works out the address the
// node really sends from (so "no NAT" can be judged and LAN peers are offered a
// reachable endpoint), then builds the node. Calls a hook after every datagram and
// timer, which is where the commands read streams and react to events.
#pragma once

#include "dht/base/log.hpp"
#include "cli/ipv6_setting.hpp"
#include "cli/tcp_tunnel.hpp"
#include "dht/io/udp_driver.hpp"
#include "overlay/overlay_node.hpp"

#include <functional>
#include <optional>

namespace ovl::cli {

class overlay_session final : public datagram_core {
public:
    // Throws std::system_error when `bind` (or a required `ipv6` socket) cannot be bound.
    // With `ipv6`, the node is dual-stack: an IPv6 socket beside the IPv4 one.
    overlay_session(overlay::overlay_config config, overlay::identity self, const endpoint& bind, logger_ptr log,
                    const std::optional<ipv6_socket>& ipv6 = std::nullopt);

    overlay::overlay_node& node() { return *node_; }
    io::udp_driver& driver() { return driver_; }
    // The node's own address: the bound one, or the source address toward the first
    // bootstrap node when bound to 0.0.0.0.
    const endpoint& local() const { return local_; }
    // The IPv6 socket's address (its port; the address the kernel sends from when bound to [::]).
    const std::optional<endpoint>& local6() const { return local6_; }
    // Runs after the node handled anything (datagram, timer, or `run_on_loop`).
    void set_hook(std::function<void(timestamp)> hook) { hook_ = std::move(hook); }
    // `fn` on the loop thread, then the hook, then the datagrams go out.
    void run_on_loop(std::function<void(timestamp)> fn);
    // Serves datagrams over TCP on `bind_to` (overlay-node: for clients whose network
    // blocks UDP); answers go back over the connection they came from.
    void serve_tcp(const endpoint& bind_to);
    // Sends every datagram over TCP instead of UDP (the client side, UDP blocked here).
    void tunnel_everything();
    const tcp_tunnel* tunnel() const { return tunnel_ ? &*tunnel_ : nullptr; }

    void on_datagram(timestamp now, const endpoint& from, bytes_view payload) override;
    std::optional<outgoing_datagram> poll_transmit() override;
    std::optional<timestamp> next_deadline() const override { return node_->next_deadline(); }
    void on_timeout(timestamp now) override;
    void on_extra_datagram(timestamp now, std::uint16_t socket, const endpoint& from, bytes_view payload) override;
    std::optional<std::uint16_t> poll_released_socket() override { return node_->poll_released_socket(); }

private:
    void after(timestamp now) {
        if (hook_) hook_(now);
    }

    void open_ipv6(overlay::overlay_config& config, const ipv6_socket& ipv6);
    tcp_tunnel& ensure_tunnel();
    // Hands the node's TCP punch requests to the tunnel (it reports back on the loop).
    void start_tcp_punches();

    logger_ptr log_;
    io::udp_driver driver_;
    endpoint local_;
    std::optional<endpoint> local6_;
    std::optional<overlay::overlay_node> node_;
    std::function<void(timestamp)> hook_;
    std::optional<tcp_tunnel> tunnel_;
    bool tunnel_all_ = false;
    // Datagrams for the tunnel from the current drain of the node (sent as one burst).
    std::vector<tcp_tunnel::frame> tunnelled_;
};

} // namespace ovl::cli

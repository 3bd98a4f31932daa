#include "cli/overlay_session.hpp"

#include "cli/local_address.hpp"

#include <chrono>

namespace ovl::cli {

overlay_session::overlay_session(overlay::overlay_config config, overlay::identity self, const endpoint& bind,
                                 logger_ptr log, const std::optional<ipv6_socket>& ipv6)
    : log_(log), driver_(*this, bind, log), local_(driver_.local_endpoint()) {
    // The driver only calls into this core once its loop runs, so the node can be built
    // after binding, when the real port and address are known.
    if (local_.address.is_unspecified()) {
        for (const auto& b : config.dht.bootstrap) {
            if (b.address.family() != local_.address.family()) continue;
            if (auto ip = local_address_toward(b)) local_.address = *ip;
            break;
        }
    }
    if (ipv6 && local_.address.is_v4()) open_ipv6(config, *ipv6);
    config.local = local_;
    // Contact-record sequence numbers follow the wall clock, so a restarted peer's new
    // records supersede the ones it published before.
    config.record_seq_base = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count() * 16;
    // Peers behind the same NAT reach us on our private address.
    if (!local_.address.is_unspecified() && !local_.address.is_global() && !local_.address.is_loopback())
        config.lan = {local_};
    node_.emplace(std::move(config), std::move(self), random_source::from_os(), std::move(log), io::steady_now());
}

void overlay_session::open_ipv6(overlay::overlay_config& config, const ipv6_socket& ipv6) {
    std::vector<std::uint16_t> ports{ipv6.bind.port};
    if (ipv6.bind.port == 0) ports.insert(ports.begin(), local_.port);
    for (auto port : ports) {
        try {
            driver_.add_family_socket(endpoint{ipv6.bind.address, port});
            break;
        } catch (const std::system_error& e) {
            if (port != ports.back()) continue;
            if (ipv6.required) throw;
            log_->warn("no IPv6 socket ({}): IPv4 only", e.code().message());
            return;
        }
    }
    // Bound to [::], the address stays unspecified: what IPv6 DHT nodes report seeing is
    // what the node advertises (overlay_node::ipv6_endpoint).
    local6_ = driver_.local_endpoint(ip_family::v6);
    config.local6 = local6_;
    config.dht.families = {true, true};
}

void overlay_session::run_on_loop(std::function<void(timestamp)> fn) {
    driver_.post([this, fn = std::move(fn)](timestamp now) {
        fn(now);
        after(now);
    });
}

tcp_tunnel& overlay_session::ensure_tunnel() {
    if (!tunnel_)
        tunnel_.emplace(
            [this](const endpoint& from, std::vector<bytes> frames) {
                driver_.post([this, from, frames = std::move(frames)](timestamp now) {
                    for (const auto& f : frames) node_->on_datagram(now, from, f);
                    after(now);
                });
            },
            log_);
    return *tunnel_;
}

void overlay_session::serve_tcp(const endpoint& bind_to) { ensure_tunnel().listen(bind_to); }

void overlay_session::tunnel_everything() {
    ensure_tunnel();
    tunnel_all_ = true;
}

void overlay_session::start_tcp_punches() {
    while (auto r = node_->poll_tcp_punch()) {
        const auto wait = r->deadline - io::steady_now();
        // From the port number of the UDP socket of the remote's family: the one the peer was told.
        const auto port = r->remote.address.is_v6() && local6_ ? local6_->port : local_.port;
        log_->info("TCP punch to {} from {}", r->remote.to_string(),
                   r->via ? "the port of our connection to " + r->via->to_string() : "port " + std::to_string(port));
        ensure_tunnel().punch(r->remote, r->via, port, wait, [this, sid = r->sid](bool ok) {
            driver_.post([this, sid, ok](timestamp now) {
                node_->on_tcp_punch_result(now, sid, ok);
                after(now);
            });
        });
    }
}

std::optional<outgoing_datagram> overlay_session::poll_transmit() {
    start_tcp_punches();
    while (auto d = node_->poll_transmit()) {
        if (!tunnel_ || (!tunnel_all_ && !tunnel_->connected(d->to))) return d;
        // Probes from a second port test UDP filtering, and extra sockets punch UDP:
        // both meaningless over TCP.
        if (!d->from_secondary_port && d->socket == 0) tunnelled_.push_back({d->to, std::move(d->payload), tunnel_all_});
    }
    // The driver drains until nothing is left, so this is the end of the burst: the tunnel
    // writes it from this thread, one system call per connection.
    if (!tunnelled_.empty()) tunnel_->send(tunnelled_);
    return std::nullopt;
}

void overlay_session::on_datagram(timestamp now, const endpoint& from, bytes_view payload) {
    node_->on_datagram(now, from, payload);
    after(now);
}

void overlay_session::on_extra_datagram(timestamp now, std::uint16_t socket, const endpoint& from, bytes_view payload) {
    node_->on_extra_datagram(now, socket, from, payload);
    after(now);
}

void overlay_session::on_timeout(timestamp now) {
    node_->on_timeout(now);
    after(now);
}

} // namespace ovl::cli

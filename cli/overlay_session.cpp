#include "cli/overlay_session.hpp"

#include "cli/local_address.hpp"

#include <chrono>

namespace ovl::cli {

overlay_session::overlay_session(overlay::overlay_config config, overlay::identity self, const endpoint& bind,
                                 logger_ptr log)
    : log_(log), driver_(*this, bind, log), local_(driver_.local_endpoint()) {
    // The driver only calls into this core once its loop runs, so the node can be built
    // after binding, when the real port and address are known.
    if (local_.address.is_unspecified() && !config.dht.bootstrap.empty()) {
        if (auto ip = local_address_toward(config.dht.bootstrap.front())) local_.address = *ip;
    }
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

void overlay_session::run_on_loop(std::function<void(timestamp)> fn) {
    driver_.post([this, fn = std::move(fn)](timestamp now) {
        fn(now);
        after(now);
    });
}

tcp_tunnel& overlay_session::ensure_tunnel() {
    if (!tunnel_)
        tunnel_.emplace(
            [this](const endpoint& from, bytes payload) {
                driver_.post([this, from, payload = std::move(payload)](timestamp now) { on_datagram(now, from, payload); });
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
        log_->info("TCP punch to {} from {}", r->remote.to_string(),
                   r->via ? "the port of our connection to " + r->via->to_string() : "port " + std::to_string(local_.port));
        ensure_tunnel().punch(r->remote, r->via, local_.port, wait, [this, sid = r->sid](bool ok) {
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
        if (!d->from_secondary_port && d->socket == 0) tunnel_->send(d->to, std::move(d->payload), tunnel_all_);
    }
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

#include "cli/overlay_session.hpp"

#include "cli/local_address.hpp"

#include <chrono>

namespace ovl::cli {

overlay_session::overlay_session(overlay::overlay_config config, overlay::identity self, const endpoint& bind,
                                 logger_ptr log)
    : driver_(*this, bind, log), local_(driver_.local_endpoint()) {
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

void overlay_session::on_datagram(timestamp now, const endpoint& from, bytes_view payload) {
    node_->on_datagram(now, from, payload);
    after(now);
}

void overlay_session::on_timeout(timestamp now) {
    node_->on_timeout(now);
    after(now);
}

} // namespace ovl::cli

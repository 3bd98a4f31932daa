#include "overlay/birthday_probe.hpp"

#include <algorithm>

namespace ovl::overlay {

namespace {
constexpr std::uint32_t lowest_port = 1024;
constexpr std::uint32_t port_span = 65536 - lowest_port;
} // namespace

birthday_probe::birthday_probe(role r, bytes probe, endpoint peer, std::uint16_t first_socket,
                               settings s, random_source rng, duration interval, timestamp now)
    : role_(r),
      probe_(std::move(probe)),
      peer_(peer),
      first_socket_(first_socket),
      settings_(s),
      rng_(std::move(rng)),
      interval_(interval),
      next_round_(r == role::spray ? now + s.spray_delay : now),
      started_(now) {
    settings_.spray_probes = static_cast<std::uint16_t>(std::min<std::uint32_t>(settings_.spray_probes, port_span / 2));
    if (now >= next_round_) on_timeout(now);
}

std::uint16_t birthday_probe::random_port() {
    for (;;) {
        const auto port = static_cast<std::uint16_t>(lowest_port + rng_.uniform(port_span));
        if (tried_.insert(port).second) return port;
    }
}

void birthday_probe::send_round(timestamp now) {
    const bytes& payload = probe_;
    if (role_ == role::spray) {
        for (int i = 0; i < settings_.per_round && probes_sent_ < settings_.spray_probes; ++i) {
            outbox_.push_back({endpoint{peer_.address, random_port()}, payload});
            ++probes_sent_;
        }
        return;
    }
    auto send_from = [&](std::uint16_t index) {
        outgoing_datagram d{peer_, payload};
        d.socket = static_cast<std::uint16_t>(first_socket_ + index);
        // These probes only have to open our own NAT; the peer's spray comes in through
        // them. Arriving at the peer's NAT before its spray has left, they would take the
        // tuples the spray needs there (routers without an input filter keep state for
        // every unsolicited packet), so they die in transit instead.
        d.ttl = settings_.opening_ttl;
        outbox_.push_back(std::move(d));
        ++probes_sent_;
    };
    for (int i = 0; i < settings_.per_round && opened_ < settings_.sockets; ++i) send_from(opened_++);
    if (now - started_ >= settings_.resend_after)
        for (int i = 0; i < settings_.per_round && resent_ < opened_; ++i) send_from(resent_++);
}

void birthday_probe::on_timeout(timestamp now) {
    if (stopped_ || now < next_round_ || !next_deadline()) return;
    send_round(now);
    next_round_ = now + interval_;
}

std::optional<outgoing_datagram> birthday_probe::poll_transmit() {
    if (outbox_.empty()) return std::nullopt;
    auto d = std::move(outbox_.front());
    outbox_.pop_front();
    return d;
}

std::optional<timestamp> birthday_probe::next_deadline() const {
    if (stopped_) return std::nullopt;
    const bool done = role_ == role::spray ? probes_sent_ >= settings_.spray_probes
                                           : opened_ >= settings_.sockets && resent_ >= settings_.sockets;
    if (done) return std::nullopt;
    return next_round_;
}

} // namespace ovl::overlay

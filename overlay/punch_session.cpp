#include "overlay/punch_session.hpp"

#include "overlay/wire_tags.hpp"

#include <algorithm>

namespace ovl::overlay {

namespace {
bytes frame(std::uint8_t tag, const std::string& sid) {
    bytes out;
    out.reserve(1 + sid.size());
    out.push_back(tag);
    out.insert(out.end(), sid.begin(), sid.end());
    return out;
}
} // namespace

bytes punch_session::probe(const std::string& sid) { return frame(tag::punch_probe, sid); }
bytes punch_session::ack(const std::string& sid) { return frame(tag::punch_ack, sid); }

std::optional<std::string> punch_session::session_of(bytes_view d) {
    if (d.size() != 9 || (d[0] != tag::punch_probe && d[0] != tag::punch_ack)) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(d.data() + 1), 8);
}

punch_session::punch_session(std::string session_id, std::vector<endpoint> candidates, timestamp now,
                             duration interval, duration timeout, std::uint8_t opening_ttl, duration opening_lead)
    : sid_(std::move(session_id)),
      candidates_(std::move(candidates)),
      interval_(interval),
      started_(now),
      deadline_(now + timeout),
      next_round_(now) {
    send_round(opening_ttl);
    next_round_ = now + (opening_ttl != 0 ? opening_lead : interval_);
}

void punch_session::send_round(std::uint8_t ttl) {
    for (const auto& c : candidates_) {
        outgoing_datagram d{c, probe(sid_)};
        d.ttl = ttl;
        outbox_.push_back(std::move(d));
        ++probes_sent_;
    }
}

void punch_session::on_reply(timestamp now, const endpoint& from, std::uint16_t socket) {
    if (state_ != state::punching) return;
    const bool ipv6_pending = std::any_of(candidates_.begin(), candidates_.end(),
                                          [](const endpoint& c) { return c.address.is_v6(); });
    if (ipv6_grace_ > duration{} && from.address.is_v4() && ipv6_pending) {
        if (!held_) {
            held_.emplace(from, socket);
            held_until_ = now + ipv6_grace_;
        }
        return;
    }
    settle(now, from, socket);
}

void punch_session::settle(timestamp now, const endpoint& from, std::uint16_t socket) {
    state_ = state::succeeded;
    path_ = from;
    path_socket_ = socket;
    finished_ = now;
    if (birthday_) birthday_->stop();
    // One more ack so the other side settles too, even if all its probes were lost.
    outgoing_datagram d{from, ack(sid_)};
    d.socket = socket;
    outbox_.push_back(std::move(d));
}

void punch_session::on_timeout(timestamp now) {
    if (state_ != state::punching) return;
    if (held_ && (now >= held_until_ || now >= deadline_)) {
        settle(now, held_->first, held_->second);
        return;
    }
    if (now >= deadline_) {
        state_ = state::failed;
        finished_ = now;
        if (birthday_) birthday_->stop();
        return;
    }
    if (birthday_) birthday_->on_timeout(now);
    if (now >= next_round_) {
        send_round();
        next_round_ = now + interval_;
    }
}

std::optional<outgoing_datagram> punch_session::poll_transmit() {
    if (outbox_.empty()) return birthday_ ? birthday_->poll_transmit() : std::nullopt;
    auto d = std::move(outbox_.front());
    outbox_.erase(outbox_.begin());
    return d;
}

std::optional<timestamp> punch_session::next_deadline() const {
    if (state_ != state::punching) return std::nullopt;
    auto next = std::min(next_round_, deadline_);
    if (held_) next = std::min(next, held_until_);
    if (birthday_)
        if (auto b = birthday_->next_deadline()) next = std::min(next, *b);
    return next;
}

} // namespace ovl::overlay

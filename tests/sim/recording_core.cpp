#include "sim/recording_core.hpp"

namespace ovl::sim {

void recording_core::send(const endpoint& to, bytes payload) {
    outbox_.push_back(outgoing_datagram{to, std::move(payload)});
}

void recording_core::send(const endpoint& to, std::string_view text) {
    send(to, bytes(text.begin(), text.end()));
}

void recording_core::send_from(std::uint16_t socket, const endpoint& to, std::string_view text) {
    outgoing_datagram d{to, bytes(text.begin(), text.end())};
    d.socket = socket;
    outbox_.push_back(std::move(d));
}

void recording_core::send_with_ttl(std::uint8_t ttl, const endpoint& to, std::string_view text) {
    outgoing_datagram d{to, bytes(text.begin(), text.end())};
    d.ttl = ttl;
    outbox_.push_back(std::move(d));
}

std::vector<endpoint> recording_core::senders() const {
    std::vector<endpoint> out;
    out.reserve(inbox_.size());
    for (const auto& r : inbox_) out.push_back(r.from);
    return out;
}

void recording_core::on_datagram(timestamp now, const endpoint& from, bytes_view payload) {
    inbox_.push_back(received{now, from, bytes(payload.begin(), payload.end())});
    if (echo_) send(from, bytes(payload.begin(), payload.end()));
}

void recording_core::on_extra_datagram(timestamp now, std::uint16_t socket, const endpoint& from, bytes_view payload) {
    inbox_.push_back(received{now, from, bytes(payload.begin(), payload.end()), socket});
}

std::optional<std::uint16_t> recording_core::poll_released_socket() {
    if (released_.empty()) return std::nullopt;
    const auto n = released_.front();
    released_.pop_front();
    return n;
}

std::optional<outgoing_datagram> recording_core::poll_transmit() {
    if (outbox_.empty()) return std::nullopt;
    outgoing_datagram d = std::move(outbox_.front());
    outbox_.pop_front();
    return d;
}

void recording_core::on_timeout(timestamp now) {
    if (deadline_ && now >= *deadline_) {
        deadline_.reset();
        timeouts_.push_back(now);
    }
}

} // namespace ovl::sim

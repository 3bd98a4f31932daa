#include "sim/recording_core.hpp"

namespace ovl::sim {

void recording_core::send(const endpoint& to, bytes payload) {
    outbox_.push_back(outgoing_datagram{to, std::move(payload)});
}

void recording_core::send(const endpoint& to, std::string_view text) {
    send(to, bytes(text.begin(), text.end()));
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

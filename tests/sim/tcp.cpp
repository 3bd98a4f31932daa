// The host side of the simulated TCP: listeners, the handshake state machine (including
// simultaneous open, RFC 793 section 3.4) and resets. The NAT side lives in nat.cpp.
#include "sim/network.hpp"

#include <stdexcept>

namespace ovl::sim {

namespace {
std::uint64_t listener_key(std::uint32_t host_node, std::uint16_t port) {
    return std::uint64_t{host_node} << 16 | port;
}
} // namespace

std::size_t network::tcp_key_hash::operator()(const tcp_key& k) const noexcept {
    return endpoint_hash{}(k.remote) * 0x9e3779b97f4a7c15ULL ^ (std::size_t{k.host} << 16 | k.port);
}

void network::tcp_listen(host_id host, std::uint16_t port,
                         std::function<void(tcp_connection&)> on_accept) {
    host_node(host);
    if (!tcp_listeners_.emplace(listener_key(host.value, port), std::move(on_accept)).second)
        throw std::invalid_argument("TCP port already listening");
}

tcp_connection& network::tcp_connect(host_id host, std::uint16_t local_port, const endpoint& remote) {
    host_node(host);
    const tcp_key key{host.value, local_port, remote};
    if (tcp_by_tuple_.contains(key)) throw std::invalid_argument("TCP 4-tuple already in use");
    tcp_connections_.push_back(std::make_unique<tcp_connection>(
        *this, host.value, host, endpoint{source_for(host.value, remote.address), local_port}, remote,
        tcp_connection::state::syn_sent));
    tcp_connection& c = *tcp_connections_.back();
    tcp_by_tuple_.emplace(key, &c);
    if (alive_[host.value]) send_segment(host.value, local_port, remote, tcp_flag::syn, {});
    return c;
}

void network::send_segment(std::uint32_t host_node, std::uint16_t port, const endpoint& remote,
                           std::uint8_t flags, bytes payload) {
    if (!alive_[host_node]) return;
    send(host_node, protocol::tcp, flags, endpoint{source_for(host_node, remote.address), port}, remote,
         std::move(payload));
}

void network::deliver_tcp(std::uint32_t n, std::uint32_t slot) {
    // Copy the segment out: callbacks may send, which can grow the packet table.
    const std::uint8_t flags = packets_[slot].flags;
    const endpoint from = packets_[slot].src;
    const endpoint to = packets_[slot].dst;
    const std::uint16_t port = to.port;
    const bool syn = flags & tcp_flag::syn;
    const bool ack = flags & tcp_flag::ack;
    const bool rst = flags & tcp_flag::rst;

    auto it = tcp_by_tuple_.find(tcp_key{n, port, from});
    if (it == tcp_by_tuple_.end()) {
        auto listener = tcp_listeners_.find(listener_key(n, port));
        if (syn && !ack && !rst && listener != tcp_listeners_.end()) {
            ++stats_.delivered;
            if (log_) log_packet("deliver", packets_[slot]);
            release_packet(slot);
            tcp_connections_.push_back(std::make_unique<tcp_connection>(
                *this, n, host_id{n}, to, from,
                tcp_connection::state::syn_received));
            tcp_connection& c = *tcp_connections_.back();
            c.saw_syn_ = true;
            tcp_by_tuple_.emplace(tcp_key{n, port, from}, &c);
            send_segment(n, port, from, tcp_flag::syn | tcp_flag::ack, {});
            if (listener->second) listener->second(c);
            return;
        }
        // A closed port answers anything but a RST with a RST (RFC 793, "reset generation").
        drop(slot, drop_reason::no_listener);
        if (!rst) send_segment(n, port, from, tcp_flag::rst | tcp_flag::ack, {});
        return;
    }

    ++stats_.delivered;
    if (log_) log_packet("deliver", packets_[slot]);
    const bytes payload = packets_[slot].take_payload();
    release_packet(slot);
    tcp_connection& c = *it->second;
    if (rst) {
        c.state_ = tcp_connection::state::closed;
        tcp_by_tuple_.erase(it);
        if (c.on_reset) c.on_reset();
        return;
    }
    if (syn) c.saw_syn_ = true;
    switch (c.state_) {
    case tcp_connection::state::syn_sent:
        if (syn && !ack) {
            // Simultaneous open: the peer's SYN crossed ours.
            c.state_ = tcp_connection::state::syn_received;
            send_segment(n, port, from, tcp_flag::syn | tcp_flag::ack, {});
            return;
        }
        if (!(syn && ack)) return;
        c.state_ = tcp_connection::state::established;
        send_segment(n, port, from, tcp_flag::ack, {});
        if (c.on_connected) c.on_connected();
        return;
    case tcp_connection::state::syn_received:
        if (!ack) return;
        c.state_ = tcp_connection::state::established;
        if (syn) send_segment(n, port, from, tcp_flag::ack, {});
        if (c.on_connected) c.on_connected();
        if (!payload.empty() && c.on_data) c.on_data(payload);
        return;
    case tcp_connection::state::established:
        if (!payload.empty() && c.on_data) c.on_data(payload);
        return;
    case tcp_connection::state::closed:
        return;
    }
}

void tcp_connection::send(bytes data) {
    if (state_ != state::established) return;
    net_->send_segment(host_node_, local_.port, remote_, tcp_flag::ack, std::move(data));
}

void tcp_connection::reset() {
    if (state_ == state::closed) return;
    net_->send_segment(host_node_, local_.port, remote_, tcp_flag::rst, {});
    state_ = state::closed;
    net_->tcp_by_tuple_.erase(network::tcp_key{host_node_, local_.port, remote_});
}

} // namespace ovl::sim

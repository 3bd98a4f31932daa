// A tiny datagram_core for tests: records what arrives, sends what the test queues, can
// echo, and fires a one-shot timer the test sets.
#pragma once

#include "dht/base/datagram.hpp"

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ovl::sim {

class recording_core : public datagram_core {
public:
    struct received {
        timestamp at;
        endpoint from;
        bytes payload;
        // 0: the core's own socket; n: extra socket n.
        std::uint16_t socket = 0;
        std::string text() const { return {payload.begin(), payload.end()}; }
    };

    // Queues a datagram; call udp_binding::poke() afterwards so the network sends it.
    void send(const endpoint& to, bytes payload);
    void send(const endpoint& to, std::string_view text);
    // Sends from extra socket `socket` (opened by the host on first use).
    void send_from(std::uint16_t socket, const endpoint& to, std::string_view text);
    // Sends from the core's own socket with IP TTL `ttl`.
    void send_with_ttl(std::uint8_t ttl, const endpoint& to, std::string_view text);
    void release(std::uint16_t socket) { released_.push_back(socket); }
    // One-shot timer: on_timeout is called once at `at`.
    void set_deadline(std::optional<timestamp> at) { deadline_ = at; }
    // Reply to every datagram with the same payload.
    void set_echo(bool on) { echo_ = on; }

    const std::vector<received>& inbox() const { return inbox_; }
    const std::vector<timestamp>& timeouts() const { return timeouts_; }
    // Sources of every received datagram, in order (handy for NAT expectations).
    std::vector<endpoint> senders() const;

    void on_datagram(timestamp now, const endpoint& from, bytes_view payload) override;
    std::optional<outgoing_datagram> poll_transmit() override;
    std::optional<timestamp> next_deadline() const override { return deadline_; }
    void on_timeout(timestamp now) override;
    void on_extra_datagram(timestamp now, std::uint16_t socket, const endpoint& from, bytes_view payload) override;
    std::optional<std::uint16_t> poll_released_socket() override;

private:
    std::deque<outgoing_datagram> outbox_;
    std::deque<std::uint16_t> released_;
    std::vector<received> inbox_;
    std::vector<timestamp> timeouts_;
    std::optional<timestamp> deadline_;
    bool echo_ = false;
};

} // namespace ovl::sim

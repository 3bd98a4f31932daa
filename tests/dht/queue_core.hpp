// A datagram_core for tests of the Asio edge: sends what the test queued, records what
// arrives on its own socket, and calls `on_received` after each arrival.
#pragma once

#include "dht/base/datagram.hpp"

#include <deque>
#include <functional>
#include <vector>

namespace ovl::test {

struct queue_core final : datagram_core {
    std::deque<outgoing_datagram> queued;
    std::vector<bytes> received;
    std::function<void()> on_received = [] {};

    void on_datagram(timestamp, const endpoint&, bytes_view d) override {
        received.emplace_back(d.begin(), d.end());
        on_received();
    }
    std::optional<outgoing_datagram> poll_transmit() override {
        if (queued.empty()) return std::nullopt;
        auto d = std::move(queued.front());
        queued.pop_front();
        return d;
    }
    std::optional<timestamp> next_deadline() const override { return std::nullopt; }
    void on_timeout(timestamp) override {}
};

} // namespace ovl::test

// A few DHT nodes wired directly to each other with no loss, no latency and no NAT:
// enough to test one node's behaviour. The simulator (tests/sim) is for everything
// that involves a real network shape.
#pragma once

#include "dht/base/log.hpp"
#include "dht/node.hpp"

#include <map>
#include <memory>

namespace ovl::test {

class direct_wire {
public:
    timestamp now{std::chrono::seconds(1000)};

    dht::node& add(const endpoint& ep, dht::node_config config = {}, std::uint64_t seed = 0) {
        config.table.one_node_per_ip = false;
        auto n = std::make_unique<dht::node>(std::move(config), random_source(seed ? seed : nodes_.size() + 1),
                                             null_logger(), now);
        auto& ref = *n;
        nodes_[ep] = std::move(n);
        return ref;
    }

    // Delivers queued datagrams until nobody has anything to send. Datagrams to
    // unknown endpoints vanish, like packets to a host that is down.
    std::size_t pump() {
        std::size_t delivered = 0;
        for (bool busy = true; busy;) {
            busy = false;
            for (auto& [from, n] : nodes_) {
                while (auto d = n->poll_transmit()) {
                    busy = true;
                    sent.push_back({from, d->to, d->payload});
                    if (auto it = nodes_.find(d->to); it != nodes_.end()) {
                        it->second->on_datagram(now, from, d->payload);
                        ++delivered;
                    }
                }
            }
        }
        return delivered;
    }

    // Advances time in steps, running every node's timers, pumping in between.
    void advance(duration d, duration step = std::chrono::milliseconds(100)) {
        const timestamp end = now + d;
        while (now < end) {
            now += step;
            for (auto& [ep, n] : nodes_)
                if (auto dl = n->next_deadline(); dl && *dl <= now) n->on_timeout(now);
            pump();
        }
    }

    struct record {
        endpoint from;
        endpoint to;
        bytes payload;
    };
    std::vector<record> sent;

private:
    std::map<endpoint, std::unique_ptr<dht::node>> nodes_;
};

} // namespace ovl::test

// A few DHT nodes wired directly to each other with no loss, no latency and no NAT:
// enough to test one node's behaviour. The simulator (tests/sim) is for everything
// that involves a real network shape. A node may have one endpoint per address family
// (dual stack); it sends from the one of its destination's family, as a driver with one
// socket per family would.
#pragma once

#include "dht/base/log.hpp"
#include "dht/node.hpp"

#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace ovl::test {

class direct_wire {
public:
    timestamp now{std::chrono::seconds(1000)};

    dht::node& add(const endpoint& ep, dht::node_config config = {}, std::uint64_t seed = 0) {
        return add(std::vector<endpoint>{ep}, std::move(config), seed);
    }
    // One node reachable at each of `eps` (at most one per family).
    dht::node& add(const std::vector<endpoint>& eps, dht::node_config config = {}, std::uint64_t seed = 0) {
        config.table.one_node_per_ip = false;
        members_.push_back({std::make_unique<dht::node>(std::move(config), random_source(seed ? seed : members_.size() + 1),
                                                        null_logger(), now),
                            eps});
        auto& ref = *members_.back().node;
        for (const auto& ep : eps) nodes_[ep] = &ref;
        return ref;
    }

    // Delivers queued datagrams until nobody has anything to send. Datagrams to
    // unknown endpoints, or of a family the sender has no endpoint in, vanish, like
    // packets to a host that is down or sent without a route.
    std::size_t pump() {
        std::size_t delivered = 0;
        for (bool busy = true; busy;) {
            busy = false;
            for (auto& m : members_) {
                while (auto d = m.node->poll_transmit()) {
                    busy = true;
                    const auto from = m.source_for(d->to);
                    if (!from) continue;
                    sent.push_back({*from, d->to, d->payload});
                    if (auto it = nodes_.find(d->to); it != nodes_.end()) {
                        it->second->on_datagram(now, *from, d->payload);
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
            for (auto& m : members_)
                if (auto dl = m.node->next_deadline(); dl && *dl <= now) m.node->on_timeout(now);
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
    struct member {
        std::unique_ptr<dht::node> node;
        std::vector<endpoint> eps;

        std::optional<endpoint> source_for(const endpoint& to) const {
            for (const auto& ep : eps)
                if (ep.address.family() == to.address.family()) return ep;
            return std::nullopt;
        }
    };
    std::vector<member> members_;
    std::map<endpoint, dht::node*> nodes_;
};

} // namespace ovl::test

// A swarm of DHT nodes on public hosts of the simulated internet, for tests and
// benchmarks that need thousands of real nodes: build it, let it bootstrap, then run
// lookups and compare them with the true closest node.
#pragma once

#include "dht/base/log.hpp"
#include "dht/node.hpp"
#include "sim/network.hpp"

#include <memory>
#include <optional>
#include <vector>

namespace ovl::test {

struct swarm_member {
    sim::host_id host;
    endpoint ep;
    std::unique_ptr<dht::node> node;
    sim::udp_binding* binding = nullptr;
    bool alive = true;
};

struct swarm_options {
    std::size_t nodes = 1000;
    std::size_t seeds = 3;
    // Nodes join one after another, spread over this much virtual time.
    duration join_spread = std::chrono::seconds(60);
    // Quiet time after the last join before the swarm counts as settled.
    duration settle = std::chrono::seconds(30);
    duration min_latency = std::chrono::milliseconds(5);
    duration max_latency = std::chrono::milliseconds(60);
    // Each node's per-IP limiter table (dht::ip_rate_limit::slots). A simulated node hears
    // from a few hundred addresses; the default 16,384 slots (512 KiB a node) would be most
    // of a large swarm's memory. Shared slots only ever loosen a limit.
    std::size_t rate_limiter_slots = 512;
};

class dht_swarm {
public:
    dht_swarm(sim::network& net, swarm_options options);

    // Adds every node, bootstraps them in turn and runs until settled.
    void build();
    // Kills `fraction` of the nodes (never the seeds) without notice.
    void churn(double fraction);

    struct lookup_stats {
        std::size_t lookups = 0;
        std::size_t found_closest = 0;
        double mean_hops = 0;
        int p99_hops = 0;
        double mean_messages = 0;
        std::size_t p99_messages = 0;
        double mean_seconds = 0;
    };
    // `count` find_node lookups from random live nodes for random targets.
    lookup_stats run_lookups(std::size_t count);

    std::vector<swarm_member>& members() { return members_; }
    std::size_t alive_count() const;

private:
    const swarm_member& true_closest(const dht::node_id& target) const;

    sim::network& net_;
    swarm_options options_;
    std::vector<swarm_member> members_;
};

} // namespace ovl::test

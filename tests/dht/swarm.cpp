#include "swarm.hpp"

#include <algorithm>

namespace ovl::test {

dht_swarm::dht_swarm(sim::network& net, swarm_options options) : net_(net), options_(options) {}

void dht_swarm::build() {
    auto& rng = net_.random();
    const auto spread = static_cast<std::uint64_t>((options_.max_latency - options_.min_latency).count());
    std::vector<endpoint> seeds;
    members_.reserve(options_.nodes);
    for (std::size_t i = 0; i < options_.nodes; ++i) {
        auto address = ip_address::v4(0x0B000000u + static_cast<std::uint32_t>(i));
        auto latency = options_.min_latency + duration(static_cast<duration::rep>(rng.uniform(spread + 1)));
        auto host = net_.add_public_host(address, sim::make_link(latency));
        dht::node_config config;
        config.per_ip.slots = options_.rate_limiter_slots;
        if (i >= options_.seeds) config.bootstrap = seeds;
        swarm_member m;
        m.host = host;
        m.ep = endpoint{address, 6881};
        m.node = std::make_unique<dht::node>(config, random_source(rng.derive_seed()), null_logger(), net_.now());
        m.binding = &net_.bind_udp(host, 6881, *m.node);
        members_.push_back(std::move(m));
        if (i < options_.seeds) seeds.push_back(endpoint{address, 6881});
    }
    // Seeds know each other; everyone else joins through them, one at a time.
    for (std::size_t i = 0; i < options_.seeds; ++i) {
        auto& m = members_[i];
        m.node->bootstrap(net_.now());
        m.binding->poke();
    }
    const auto gap = options_.join_spread / static_cast<duration::rep>(std::max<std::size_t>(1, options_.nodes));
    for (std::size_t i = options_.seeds; i < options_.nodes; ++i) {
        net_.run_for(gap);
        members_[i].node->bootstrap(net_.now());
        members_[i].binding->poke();
    }
    net_.run_for(options_.settle);
}

void dht_swarm::churn(double fraction) {
    auto& rng = net_.random();
    auto victims = static_cast<std::size_t>(fraction * static_cast<double>(members_.size()));
    while (victims > 0) {
        auto i = options_.seeds + rng.uniform(members_.size() - options_.seeds);
        auto& m = members_[i];
        if (!m.alive) continue;
        m.alive = false;
        net_.kill_host(m.host);
        --victims;
    }
}

std::size_t dht_swarm::alive_count() const {
    return static_cast<std::size_t>(std::count_if(members_.begin(), members_.end(), [](const auto& m) { return m.alive; }));
}

const swarm_member& dht_swarm::true_closest(const dht::node_id& target) const {
    const swarm_member* best = nullptr;
    for (const auto& m : members_) {
        if (!m.alive) continue;
        if (!best || dht::closer_to(target, m.node->id(), best->node->id())) best = &m;
    }
    return *best;
}

dht_swarm::lookup_stats dht_swarm::run_lookups(std::size_t count) {
    auto& rng = net_.random();
    struct outcome {
        bool done = false;
        bool found = false;
        int hops = 0;
        int messages = 0;
        duration elapsed{};
    };
    std::vector<outcome> outcomes(count);
    std::size_t finished = 0;
    for (std::size_t i = 0; i < count; ++i) {
        swarm_member* from;
        do {
            from = &members_[rng.uniform(members_.size())];
        } while (!from->alive);
        auto target = dht::node_id::random(rng);
        auto expected = true_closest(target).node->id();
        from->node->find_node(net_.now(), target, [&, i, expected](timestamp, const dht::lookup_result& r) {
            auto& o = outcomes[i];
            o.done = true;
            o.found = !r.closest.empty() && r.closest.front().id == expected;
            o.hops = r.hops;
            o.messages = r.queries;
            o.elapsed = r.elapsed;
            ++finished;
        });
        from->binding->poke();
        // Lookups overlap, as they would in a live network: start one every 10 ms.
        net_.run_for(std::chrono::milliseconds(10));
    }
    net_.run_until([&] { return finished == count; }, net_.now() + std::chrono::minutes(5));

    lookup_stats s;
    s.lookups = count;
    std::vector<int> hops;
    std::vector<std::size_t> messages;
    double seconds = 0;
    for (const auto& o : outcomes) {
        if (!o.done) continue;
        if (o.found) ++s.found_closest;
        hops.push_back(o.hops);
        messages.push_back(static_cast<std::size_t>(o.messages));
        seconds += to_seconds(o.elapsed);
    }
    if (hops.empty()) return s;
    std::sort(hops.begin(), hops.end());
    std::sort(messages.begin(), messages.end());
    const auto p99 = std::min(hops.size() - 1, hops.size() * 99 / 100);
    s.p99_hops = hops[p99];
    s.p99_messages = messages[p99];
    for (auto h : hops) s.mean_hops += h;
    for (auto m : messages) s.mean_messages += static_cast<double>(m);
    s.mean_hops /= static_cast<double>(hops.size());
    s.mean_messages /= static_cast<double>(messages.size());
    s.mean_seconds = seconds / static_cast<double>(hops.size());
    return s;
}

} // namespace ovl::test

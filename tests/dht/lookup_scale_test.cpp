// The DHT at scale on the simulated internet (issue 2, "Scale"): 5,000 nodes bootstrap
// from three seeds; random lookups must end on the true closest live node, also after
// 20% of the nodes vanish without notice.
#include "swarm.hpp"

#include <catch2/catch.hpp>

#include <cstdio>

using namespace ovl;

namespace {
void report(const char* label, const test::dht_swarm::lookup_stats& s) {
    std::printf("%s: %zu/%zu lookups found the closest node (%.2f%%), hops mean %.2f p99 %d, "
                "messages mean %.1f p99 %zu, mean time %.3f s\n",
                label, s.found_closest, s.lookups, 100.0 * static_cast<double>(s.found_closest) / static_cast<double>(s.lookups),
                s.mean_hops, s.p99_hops, s.mean_messages, s.p99_messages, s.mean_seconds);
}
} // namespace

TEST_CASE("5,000 nodes: lookups find the true closest node, also under 20% churn", "[scale]") {
    sim::network net(2026);
    test::swarm_options options;
    options.nodes = 5000;
    test::dht_swarm swarm(net, options);
    swarm.build();

    auto steady = swarm.run_lookups(1000);
    report("5000 nodes, no churn", steady);
    CHECK(steady.found_closest >= 990);

    swarm.churn(0.20);
    auto churned = swarm.run_lookups(1000);
    report("5000 nodes, 20% churn", churned);
    CHECK(churned.found_closest >= 950);
}

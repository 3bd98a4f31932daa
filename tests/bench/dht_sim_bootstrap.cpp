// Benchmark: wall time of a whole DHT network built on the simulator — N nodes join
// through three seeds, then 1,000 random lookups run — and the simulator's event rate
// while doing it.
//
//   build/tests/bench/dht_sim_bootstrap [NODES]
#include "swarm.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

using namespace ovl;

int main(int argc, char** argv) {
    const std::size_t nodes = argc > 1 ? static_cast<std::size_t>(std::atol(argv[1])) : 10000;
    sim::network net(10);
    test::swarm_options options;
    options.nodes = nodes;
    test::dht_swarm swarm(net, options);

    const auto t0 = std::chrono::steady_clock::now();
    swarm.build();
    const auto t1 = std::chrono::steady_clock::now();
    auto stats = swarm.run_lookups(1000);
    const auto t2 = std::chrono::steady_clock::now();

    const double build_s = std::chrono::duration<double>(t1 - t0).count();
    const double lookup_s = std::chrono::duration<double>(t2 - t1).count();
    std::printf("%zu nodes: bootstrap %.1f s wall (%.0f s simulated), 1000 lookups %.1f s wall; "
                "%zu/1000 found the closest node, hops mean %.2f\n",
                nodes, build_s, to_seconds(options.join_spread + options.settle), lookup_s, stats.found_closest,
                stats.mean_hops);
    std::printf("simulator: %llu packets delivered, %llu events, %.0f packets/s wall\n",
                static_cast<unsigned long long>(net.stats().delivered), static_cast<unsigned long long>(net.stats().events),
                static_cast<double>(net.stats().delivered) / (build_s + lookup_s));
    return 0;
}

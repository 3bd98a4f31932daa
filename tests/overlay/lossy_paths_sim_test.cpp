// Bytes over a punched path and over a relayed one, with 5% of packets lost on both
// peers' access links each way (issue 5): they arrive intact and in order, from the
// connect through the introducer to the last byte.
#include "overlay_swarm.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace std::chrono_literals;

namespace {

struct transfer {
    std::string path;
    bool intact = false;
    std::size_t received = 0;
};

transfer send_over_lossy_path(const std::string& a_preset, const std::string& b_preset, std::uint64_t seed,
                              std::size_t size) {
    sim::network net(seed);
    test::overlay_swarm swarm(net);
    swarm.add_introducers(8);
    const auto lossy = sim::make_link(25ms, 0ms, 0.05);
    auto& a = swarm.add(a_preset, lossy);
    auto& b = swarm.add(b_preset, lossy);
    swarm.run_for(8s);

    transfer out;
    const auto result = swarm.connect(a, b, 60s);
    REQUIRE(result);
    INFO("connect: " << result->error);
    REQUIRE(result->ok);
    out.path = overlay::to_string(result->path);

    bytes sent(size);
    net.random().fill(sent);
    const auto received = swarm.transfer(a, result->connection, b, sent, 120s);
    out.received = received.size();
    out.intact = received == sent;
    return out;
}

} // namespace

TEST_CASE("256 KiB cross a punched path and a relayed path intact and in order with 5% loss", "[overlay][punch][loss]") {
    struct pair {
        const char* a;
        const char* b;
        const char* path;
    };
    for (const auto& p : {pair{"port-restricted-cone", "port-restricted-cone", "udp"}, pair{"symmetric", "port-collision", "udp"},
                          pair{"symmetric", "symmetric", "relay"}}) {
        for (std::uint64_t seed : {1u, 2u, 3u}) {
            INFO(p.a << " -> " << p.b << ", seed " << seed);
            const auto t = send_over_lossy_path(p.a, p.b, seed, 256 << 10);
            CHECK(t.path == p.path);
            CHECK(t.received == (256u << 10));
            CHECK(t.intact);
        }
    }
}

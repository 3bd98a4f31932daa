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
    for (int i = 0; i < 8; ++i) {
        swarm.add("open");
        swarm.run_for(100ms);
    }
    swarm.run_for(2s);
    const auto lossy = sim::make_link(25ms, 0ms, 0.05);
    auto& a = swarm.add(a_preset, lossy);
    auto& b = swarm.add(b_preset, lossy);
    swarm.run_for(8s);

    transfer out;
    std::optional<overlay::connect_result> result;
    a.node->connect(net.now(), b.node->self().public_key_bytes(), [&](timestamp, const overlay::connect_result& r) { result = r; });
    a.binding->poke();
    net.run_until([&] { return result.has_value(); }, net.now() + 60s);
    REQUIRE(result);
    INFO("connect: " << result->error);
    REQUIRE(result->ok);
    out.path = overlay::to_string(result->path);

    bytes sent(size);
    net.random().fill(sent);
    std::size_t written = 0;
    bytes received;
    std::optional<overlay::connection_id> incoming;
    net.run_until(
        [&] {
            if (written < sent.size()) {
                written += a.node->write(result->connection, bytes_view(sent).subspan(written));
                a.binding->poke();
            }
            while (auto e = b.node->poll_event())
                if (e->what == overlay::connection_event::kind::opened && e->incoming) incoming = e->id;
            if (incoming) {
                auto chunk = b.node->read(*incoming);
                received.insert(received.end(), chunk.begin(), chunk.end());
            }
            return received.size() >= sent.size();
        },
        net.now() + 120s);
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

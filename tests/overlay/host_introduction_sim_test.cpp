// Introductions handed to the host (the torrent plugin's mode, overlay_config::
// assumed_reachability): the requester learns where the target is, the target is told who
// is coming and for what (ctx), and neither node punches by itself.
#include "overlay_swarm.hpp"

#include <catch2/catch.hpp>

#include <optional>

using namespace ovl;
using namespace std::chrono_literals;

namespace {
overlay::overlay_config host_driven() {
    auto c = test::overlay_swarm::default_config();
    c.assumed_reachability = overlay::reachability::unreachable;
    c.policy = overlay::path_policy::direct_only;
    return c;
}

// `count` public introducers, settled.
void add_introducers(test::overlay_swarm& swarm, int count) {
    for (int i = 0; i < count; ++i) {
        swarm.add("open");
        swarm.run_for(200ms);
    }
    swarm.run_for(5s);
}
} // namespace

TEST_CASE("host-driven introduction: both sides learn each other's public endpoint and the context",
          "[overlay][introduction]") {
    sim::network net(77);
    test::overlay_swarm swarm(net);
    add_introducers(swarm, 8);
    auto& target = swarm.add_configured("port-restricted-cone", host_driven());
    auto& requester = swarm.add_configured("port-restricted-cone", host_driven());
    std::optional<overlay::introduction> told;
    target.node->set_introduction_handler([&](timestamp, const overlay::introduction& in) { told = in; });
    swarm.run_for(10s);
    REQUIRE(target.node->registrations().introducers().size() == 3);
    // Assumed unreachable: no dial-back round ran, and nobody tried to make it a helper.
    CHECK(target.node->profile().reach == overlay::reachability::unreachable);
    CHECK(!target.node->serving_as_introducer());

    std::optional<overlay::connect_result> result;
    requester.node->introduce(net.now(), target.node->self().public_key_bytes(), "torrent-rendezvous-1",
                              [&](timestamp, const overlay::connect_result& r) { result = r; });
    requester.binding->poke();
    swarm.run_for(3s);

    REQUIRE(result);
    REQUIRE(result->ok);
    REQUIRE(!result->candidates.empty());
    CHECK(result->candidates.front() == *target.node->profile().public_endpoint);
    CHECK(result->introducer.has_value());
    REQUIRE(told);
    CHECK(told->ctx == "torrent-rendezvous-1");
    CHECK(told->peer == requester.node->self().public_key_bytes());
    REQUIRE(!told->candidates.empty());
    CHECK(told->candidates.front() == *requester.node->profile().public_endpoint);
    // The node left the connection to its host: no stream was opened on either side.
    CHECK(!target.node->poll_event());
    CHECK(!requester.node->poll_event());
}

TEST_CASE("host-driven introduction to an unknown peer fails with a reason", "[overlay][introduction]") {
    sim::network net(78);
    test::overlay_swarm swarm(net);
    add_introducers(swarm, 6);
    auto& requester = swarm.add_configured("port-restricted-cone", host_driven());
    swarm.run_for(5s);
    overlay::public_key nobody{};
    nobody[0] = 0x42;
    std::optional<overlay::connect_result> result;
    requester.node->introduce(net.now(), nobody, "x", [&](timestamp, const overlay::connect_result& r) { result = r; });
    requester.binding->poke();
    swarm.run_for(30s);
    REQUIRE(result);
    CHECK(!result->ok);
    CHECK(result->error.find("unknown peer") != std::string::npos);
}

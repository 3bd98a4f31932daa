// TCP punching as the core asks for it (overlay_config::udp_blocked): the simulator has no
// TCP tunnel, so the test plays the host — it takes both sides' requests, checks they aim
// at each other from the right ports, and reports. The real simultaneous open runs in the
// namespace lab (tests/lab/run, row "conn udp-blocked -> masquerade").
#include "overlay_swarm.hpp"

#include <catch2/catch.hpp>

#include <optional>

using namespace ovl;
using namespace std::chrono_literals;

namespace {
struct pair_under_test {
    sim::network net;
    test::overlay_swarm swarm{net};
    test::overlay_member* target = nullptr;
    test::overlay_member* requester = nullptr;
    std::optional<overlay::connect_result> result;

    explicit pair_under_test(std::uint64_t seed) : net(seed) {
        for (int i = 0; i < 8; ++i) {
            swarm.add("open");
            swarm.run_for(200ms);
        }
        swarm.run_for(5s);
        target = &swarm.add("port-restricted-cone");
        auto blocked = test::overlay_swarm::default_config();
        blocked.udp_blocked = true;
        requester = &swarm.add_configured("port-restricted-cone", blocked);
        swarm.run_for(10s);
        requester->node->connect(net.now(), target->node->self().public_key_bytes(),
                                 [&](timestamp, const overlay::connect_result& r) { result = r; });
        requester->binding->poke();
    }
};
} // namespace

TEST_CASE("tcp punch: both sides ask their host to connect toward each other; a failure falls back to the relay",
          "[overlay][tcp_punch]") {
    pair_under_test t(91);
    std::optional<overlay::tcp_punch_request> from_requester, from_target;
    t.net.run_until(
        [&] {
            if (!from_requester) from_requester = t.requester->node->poll_tcp_punch();
            if (!from_target) from_target = t.target->node->poll_tcp_punch();
            return from_requester && from_target;
        },
        t.net.now() + 10s);
    REQUIRE(from_requester);
    REQUIRE(from_target);
    CHECK(from_requester->sid == from_target->sid);
    // The requester punches from its connection to the introducer, toward the target's mapping;
    // the target from its own port, toward where the introducer saw the requester.
    CHECK(from_requester->remote == *t.target->node->profile().public_endpoint);
    REQUIRE(from_requester->via);
    CHECK(t.result == std::nullopt);
    CHECK(from_target->remote.address == t.requester->node->profile().public_endpoint->address);
    CHECK_FALSE(from_target->via);
    CHECK(from_requester->deadline > t.net.now());

    t.requester->node->on_tcp_punch_result(t.net.now(), from_requester->sid, false);
    t.requester->binding->poke();
    t.net.run_until([&] { return t.result.has_value(); }, t.net.now() + 10s);
    REQUIRE(t.result);
    INFO(t.result->error);
    CHECK(t.result->ok);
    CHECK(t.result->path == overlay::path_kind::relay);
}

TEST_CASE("tcp punch: a host that never reports fails the punch at its deadline, and the relay takes over",
          "[overlay][tcp_punch]") {
    pair_under_test t(92);
    const auto asked = t.net.now();
    t.net.run_until([&] { return t.result.has_value(); }, asked + 20s);
    REQUIRE(t.result);
    CHECK(t.result->ok);
    CHECK(t.result->path == overlay::path_kind::relay);
    // Not before the host's deadline (6 s) has passed.
    CHECK(t.net.now() - asked >= 6s);
}

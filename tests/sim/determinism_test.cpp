// Same seed, same world: the event log is a byte-for-byte replay. Jitter, loss and random
// NAT ports all draw from the network's seed, so another seed must change the log.
#include "sim/network.hpp"
#include "sim/recording_core.hpp"
#include "sim/site.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace ovl;
using namespace ovl::sim;
using namespace std::chrono_literals;

namespace {

// Ten sites of mixed NAT kinds each send to an echo server over a jittery, lossy link,
// and re-send on a timer.
std::string run_scenario(std::uint64_t seed) {
    network net(seed);
    std::string log;
    net.log_to(log);
    address_plan plan;
    const link_params lossy = make_link(20ms, 15ms, 0.1);
    const host_id server = net.add_public_host(plan.next_public(), lossy);
    recording_core echo;
    echo.set_echo(true);
    const endpoint server_ep = net.bind_udp(server, 6881, echo).local();

    std::vector<std::unique_ptr<recording_core>> cores;
    std::vector<udp_binding*> bindings;
    for (int i = 0; i < 10; ++i) {
        const site s = add_site(net, plan, i % 2 ? "symmetric" : "mix", lossy);
        cores.push_back(std::make_unique<recording_core>());
        bindings.push_back(&net.bind_udp(s.host, 4000, *cores.back()));
    }
    for (int round = 0; round < 5; ++round) {
        for (std::size_t i = 0; i < cores.size(); ++i) {
            cores[i]->send(server_ep, "hello " + std::to_string(i));
            cores[i]->set_deadline(net.now() + 500ms);
            bindings[i]->poke();
        }
        net.run_for(1s);
    }
    return log;
}

} // namespace

TEST_CASE("same seed gives a byte-identical event log", "[sim][determinism]") {
    const std::string first = run_scenario(42);
    const std::string second = run_scenario(42);
    REQUIRE(first.size() > 1000);
    CHECK(first == second);
    CHECK(first.find("drop:loss") != std::string::npos);
    CHECK(first.find(" timer ") != std::string::npos);
}

TEST_CASE("different seeds give different event logs", "[sim][determinism]") {
    CHECK(run_scenario(42) != run_scenario(43));
}

TEST_CASE("the log can go to a callback", "[sim][determinism]") {
    network net(1);
    std::vector<std::string> lines;
    net.log_to([&](std::string_view line) { lines.emplace_back(line); });
    const host_id a = net.add_public_host(*ip_address::parse("20.0.0.1"), make_link(5ms));
    recording_core c;
    udp_binding& b = net.bind_udp(a, 1, c);
    c.send({*ip_address::parse("20.0.0.1"), 2}, "abc");
    b.poke();
    net.run_for(1s);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] == "10000000 drop:no-listener udp 20.0.0.1:1 > 20.0.0.1:2 3\n");
}

// NAT discovery on the simulated internet: one peer behind each preset among public
// overlay nodes; each must classify its own NAT the way RFC 4787 names it.
#include "overlay_swarm.hpp"

#include <catch2/catch.hpp>

#include <cstdio>

using namespace ovl;
using namespace std::chrono_literals;

TEST_CASE("every NAT preset is classified correctly from observations and dial-back", "[overlay][nat]") {
    sim::network net(7);
    test::overlay_swarm swarm(net);
    for (int i = 0; i < 16; ++i) {
        swarm.add("open");
        swarm.run_for(200ms);
    }
    swarm.run_for(10s);
    const std::vector<std::pair<std::string, std::string>> expected = {
        {"full-cone", "nat-open"},
        {"restricted-cone", "nat-cone"},
        {"port-restricted-cone", "nat-cone"},
        {"symmetric", "nat-symmetric"},
        {"symmetric-sequential", "nat-symmetric"},
        {"firewall", "firewalled"},
        {"cgnat", "nat-cone"},
        {"udp-blocked", "udp-blocked"},
    };
    std::vector<test::overlay_member*> peers;
    for (const auto& [preset, verdict] : expected) peers.push_back(&swarm.add(preset));
    swarm.run_for(20s);

    std::printf("%-22s %-15s %-22s %-11s %-11s %s\n", "preset", "verdict", "mapping", "ports", "reach", "confidence");
    for (std::size_t i = 0; i < expected.size(); ++i) {
        auto p = peers[i]->node->profile();
        std::printf("%-22s %-15s %-22s %-11s %-11s %.2f\n", expected[i].first.c_str(), overlay::to_string(p.verdict),
                    overlay::to_string(p.mapping), overlay::to_string(p.ports), overlay::to_string(p.reach), p.confidence);
        INFO(expected[i].first);
        CHECK(overlay::to_string(p.verdict) == expected[i].second);
    }
    auto seq = peers[4]->node->profile();
    CHECK(seq.ports == overlay::port_behaviour::sequential);
    CHECK(seq.port_delta != 0);
    // A public node sees itself as public.
    CHECK(swarm.members()[3]->node->profile().verdict == overlay::nat_verdict::public_open);
}

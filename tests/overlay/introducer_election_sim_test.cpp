// Introducer election at scale (issue 4): 2,000 peers, 30% public and 70% behind mixed
// NATs. Every firewalled peer must hold k live introducers within 10 simulated seconds
// of joining, and be back to k within 30 seconds after 20% of the introducers vanish.
#include "overlay_swarm.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

using namespace ovl;
using namespace std::chrono_literals;

TEST_CASE("2,000 peers: every firewalled peer elects k introducers and re-elects after failures", "[overlay][election]") {
    sim::network net(404);
    test::overlay_swarm swarm(net);
    const std::size_t total = 2000;
    const std::size_t publics = total * 3 / 10;
    const std::size_t k = 3;

    // Public peers first (a network needs some before anyone can be introduced), then
    // everyone else, interleaved with the remaining public peers.
    for (std::size_t i = 0; i < 40; ++i) {
        swarm.add("open");
        swarm.run_for(100ms);
    }
    swarm.run_for(5s);
    std::map<test::overlay_member*, timestamp> ready_at;
    auto track = [&] {
        for (auto& m : swarm.members()) {
            if (!m->alive || m->preset == "open" || m->preset == "udp-blocked" || ready_at.contains(m.get())) continue;
            if (m->node->registrations().introducers().size() >= k) ready_at[m.get()] = net.now();
        }
    };
    std::size_t added_public = 40;
    for (std::size_t i = 40; i < total; ++i) {
        const bool make_public = added_public < publics && i % 10 < 3;
        if (make_public) {
            swarm.add("open");
            ++added_public;
        } else {
            std::string preset;
            do preset = std::string(sim::sample_mix(net.random()));
            while (preset == "open");
            swarm.add(preset);
        }
        swarm.run_for(20ms);
        if (i % 50 == 0) track();
    }
    for (int s = 0; s < 12; ++s) {
        swarm.run_for(1s);
        track();
    }

    std::size_t firewalled = 0, late = 0, blocked = 0;
    duration worst{};
    for (auto& m : swarm.members()) {
        // Peers behind a full-cone NAT are reachable: they introduce, not register.
        if (m->preset == "open" || m->node->profile().reach == overlay::reachability::reachable) continue;
        if (m->preset == "udp-blocked") {
            ++blocked;
            continue;
        }
        ++firewalled;
        auto it = ready_at.find(m.get());
        if (it == ready_at.end() || it->second - m->joined > 10s) ++late;
        if (it != ready_at.end()) worst = std::max(worst, it->second - m->joined);
    }
    std::printf("election: %zu firewalled peers (+%zu udp-blocked, which cannot register over UDP), %zu without %zu "
                "introducers within 10 s; slowest %.1f s\n",
                firewalled, blocked, late, k, to_seconds(worst));
    CHECK(late == 0);

    // Kill 20% of the peers that serve as introducers to someone.
    std::set<endpoint> serving;
    for (auto& m : swarm.members())
        if (m->preset != "open" && m->preset != "udp-blocked")
            for (const auto& ep : m->node->registrations().introducers()) serving.insert(ep);
    std::vector<test::overlay_member*> introducers;
    for (auto& m : swarm.members())
        if (m->preset == "open" && serving.contains(m->local)) introducers.push_back(m.get());
    std::shuffle(introducers.begin(), introducers.end(), net.random());
    std::set<endpoint> killed;
    for (std::size_t i = 0; i < introducers.size() / 5; ++i) {
        swarm.kill(*introducers[i]);
        killed.insert(introducers[i]->local);
    }
    std::vector<test::overlay_member*> affected;
    for (auto& m : swarm.members()) {
        if (m->preset == "open" || m->preset == "udp-blocked") continue;
        auto mine = m->node->registrations().introducers();
        if (std::any_of(mine.begin(), mine.end(), [&](const endpoint& ep) { return killed.contains(ep); }))
            affected.push_back(m.get());
    }
    const timestamp killed_at = net.now();
    std::map<test::overlay_member*, timestamp> recovered;
    while (net.now() - killed_at < 30s) {
        swarm.run_for(500ms);
        for (auto* m : affected) {
            if (recovered.contains(m)) continue;
            auto mine = m->node->registrations().introducers();
            const bool healthy = mine.size() >= k &&
                                 std::none_of(mine.begin(), mine.end(), [&](const endpoint& ep) { return killed.contains(ep); });
            if (healthy) recovered[m] = net.now();
        }
    }
    duration slowest{};
    for (auto& [m, t] : recovered) slowest = std::max(slowest, t - killed_at);
    std::printf("re-election: killed %zu of %zu introducers; %zu peers affected, %zu back to %zu live introducers "
                "within 30 s (slowest %.1f s)\n",
                killed.size(), introducers.size(), affected.size(), recovered.size(), k, to_seconds(slowest));
    CHECK(!affected.empty());
    CHECK(recovered.size() == affected.size());
}

// BEP 44 items at scale on the simulated internet: in a 2,000-node swarm, 100 nodes
// publish a contact record and then replace it with a newer seq; 100 other nodes must
// find the newest record of each.
#include "swarm.hpp"

#include "dht/bencode/encode.hpp"

#include <catch2/catch.hpp>
#include <sodium.h>

#include <cstdio>

using namespace ovl;

namespace {
struct publisher {
    dht::public_key pk{};
    std::array<std::uint8_t, 64> sk{};
    std::size_t member = 0;
};

dht::item_signer signer_for(const publisher& p) {
    return [sk = p.sk](std::span<const std::uint8_t> m) {
        dht::item_signature sig{};
        crypto_sign_detached(sig.data(), nullptr, m.data(), m.size(), sk.data());
        return sig;
    };
}

bencode::value record_for(std::size_t i, std::int64_t seq) {
    return bencode::dict{{"a", "198.51.100." + std::to_string(i % 250)}, {"p", static_cast<std::int64_t>(40000 + i)},
                         {"s", seq}};
}
} // namespace

TEST_CASE("2,000 nodes: 100 published items are found with their newest seq", "[scale][item]") {
    sim::network net(4404);
    test::swarm_options options;
    options.nodes = 2000;
    test::dht_swarm swarm(net, options);
    swarm.build();
    auto& members = swarm.members();
    const std::string salt = "ovl-contact";

    std::vector<publisher> publishers(100);
    for (std::size_t i = 0; i < publishers.size(); ++i) {
        std::array<std::uint8_t, 32> seed{};
        net.random().fill(seed);
        crypto_sign_seed_keypair(publishers[i].pk.data(), publishers[i].sk.data(), seed.data());
        publishers[i].member = 10 + i * 7;
    }

    // Publish seq 1, then seq 2, as a peer does when its contact changes.
    std::size_t puts_done = 0;
    double stored_total = 0;
    int stored_min = 1000;
    for (std::int64_t seq = 1; seq <= 2; ++seq) {
        for (std::size_t i = 0; i < publishers.size(); ++i) {
            auto& m = members[publishers[i].member];
            m.node->put_item(net.now(), publishers[i].pk, salt, seq, record_for(i, seq), signer_for(publishers[i]),
                             [&, seq](timestamp, const dht::put_item_result& r) {
                                 ++puts_done;
                                 if (seq != 2) return;
                                 stored_total += r.stored_at;
                                 stored_min = std::min(stored_min, r.stored_at);
                             });
            m.binding->poke();
            net.run_for(std::chrono::milliseconds(10));
        }
        net.run_until([&] { return puts_done == static_cast<std::size_t>(seq) * publishers.size(); },
                      net.now() + std::chrono::minutes(5));
    }
    REQUIRE(puts_done == 2 * publishers.size());

    std::size_t gets_done = 0;
    std::size_t found_newest = 0;
    double get_seconds = 0;
    double get_queries = 0;
    for (std::size_t i = 0; i < publishers.size(); ++i) {
        auto& m = members[15 + i * 7 + 3];
        const auto expected = bencode::encode(record_for(i, 2));
        m.node->get_item(net.now(), publishers[i].pk, salt,
                         [&, expected](timestamp, const std::optional<dht::mutable_item>& item, const dht::lookup_result& r) {
                             ++gets_done;
                             get_seconds += to_seconds(r.elapsed);
                             get_queries += r.queries;
                             if (item && item->seq == 2 && item->value == std::string(expected.begin(), expected.end()))
                                 ++found_newest;
                         });
        m.binding->poke();
        net.run_for(std::chrono::milliseconds(10));
    }
    net.run_until([&] { return gets_done == publishers.size(); }, net.now() + std::chrono::minutes(5));

    const auto n = static_cast<double>(publishers.size());
    std::printf("2000 nodes: %zu/%zu gets found the newest item (%.1f%%); seq 2 stored at mean %.1f, min %d nodes; "
                "get mean %.1f queries, %.3f s\n",
                found_newest, publishers.size(), 100.0 * static_cast<double>(found_newest) / n, stored_total / n,
                stored_min, get_queries / n, get_seconds / n);
    CHECK(gets_done == publishers.size());
    CHECK(found_newest >= 99);
}

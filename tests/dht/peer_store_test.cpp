#include "dht/peer_store.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::dht;
using namespace std::chrono_literals;

namespace {
endpoint peer(std::uint32_t i) { return endpoint{ip_address::v4(0xCB007100u + (i & 0xff)), static_cast<std::uint16_t>(1000 + i)}; }
} // namespace

TEST_CASE("announced peers are returned until they expire", "[peer_store]") {
    random_source rng(31);
    peer_store store;
    timestamp t0{1000s};
    auto ih = node_id::random(rng);
    CHECK(store.announce(t0, ih, peer(1)) == store_result::stored);
    CHECK(store.announce(t0 + 1min, ih, peer(1)) == store_result::refreshed);
    CHECK(store.peers(t0 + 2min, ih, 50, rng) == std::vector<endpoint>{peer(1)});
    CHECK(store.peers(t0 + 32min, ih, 50, rng).empty());
    store.expire(t0 + 32min);
    CHECK(store.torrent_count() == 0);
    CHECK(store.peer_count() == 0);
}

TEST_CASE("an announce flood cannot grow the store past its caps", "[peer_store]") {
    random_source rng(32);
    peer_store_limits limits;
    limits.max_peers_per_torrent = 10;
    limits.max_torrents = 100;
    limits.max_peers = 500;
    peer_store store(limits);
    timestamp t0{1000s};
    auto hot = node_id::random(rng);
    for (std::uint32_t i = 0; i < 1000; ++i) store.announce(t0, hot, peer(i));
    CHECK(store.peers(t0, hot, 1000, rng).size() == 10);
    for (int i = 0; i < 10000; ++i) store.announce(t0, node_id::random(rng), peer(static_cast<std::uint32_t>(i)));
    CHECK(store.torrent_count() <= 100);
    CHECK(store.peer_count() <= 500);
    const auto bytes = store.memory_bytes();
    for (int i = 0; i < 10000; ++i) store.announce(t0, node_id::random(rng), peer(static_cast<std::uint32_t>(i)));
    CHECK(store.memory_bytes() == bytes);
}

TEST_CASE("replies hand out a random subset when there are many peers", "[peer_store]") {
    random_source rng(33);
    peer_store store;
    timestamp t0{1000s};
    auto ih = node_id::random(rng);
    for (std::uint32_t i = 0; i < 200; ++i) store.announce(t0, ih, peer(i));
    auto a = store.peers(t0, ih, 50, rng);
    auto b = store.peers(t0, ih, 50, rng);
    CHECK(a.size() == 50);
    CHECK(a != b);
}

// The plugin's bridge: the identity it registers under, and the preamble that opens every
// bridged stream.
#include "overlay/torrent/bridge_protocol.hpp"

#include <catch2/catch.hpp>

using namespace ovl;

TEST_CASE("the bridge has an id of its own, the same after a restart with the same key", "[torrent][bridge]") {
    auto rng = random_source(3);
    const auto plugin = overlay::identity::generate(rng);
    const auto bridge = torrent::bridge_identity(plugin);
    CHECK(bridge.public_key_bytes() != plugin.public_key_bytes());
    CHECK(torrent::bridge_identity(plugin).public_key_bytes() == bridge.public_key_bytes());
    CHECK(torrent::bridge_identity(overlay::identity::generate(rng)).public_key_bytes() != bridge.public_key_bytes());
}

TEST_CASE("a bridged stream's preamble says who dials, for which torrent, over which path", "[torrent][bridge]") {
    auto rng = random_source(5);
    const auto peer = overlay::identity::generate(rng).public_key_bytes();
    const std::string rdv(20, 'r');
    const auto wire = torrent::encode_preamble({peer, rdv, torrent::bridge_path::direct_udp});
    REQUIRE(wire.size() == torrent::bridge_preamble_size);
    const auto back = torrent::decode_preamble(wire);
    REQUIRE(back);
    CHECK(back->peer == peer);
    CHECK(back->rdv == rdv);
    CHECK(back->path == torrent::bridge_path::direct_udp);
    CHECK(std::string(torrent::to_string(back->path)) == "direct-udp");
}

TEST_CASE("anything but a preamble is refused before it reaches libtorrent", "[torrent][bridge][hostile]") {
    const auto good = torrent::encode_preamble({{}, std::string(20, 'r'), torrent::bridge_path::relayed});
    // BitTorrent's own handshake (a peer that skipped the preamble).
    bytes bt(torrent::bridge_preamble_size, 0);
    bt[0] = 19;
    CHECK(!torrent::decode_preamble(bt));
    CHECK(!torrent::decode_preamble(bytes_view(good).first(good.size() - 1)));
    auto bad_version = good;
    bad_version[4] = 9;
    CHECK(!torrent::decode_preamble(bad_version));
    auto bad_path = good;
    bad_path[5] = 0;
    CHECK(!torrent::decode_preamble(bad_path));
}

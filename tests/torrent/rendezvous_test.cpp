// The torrent rendezvous: what peers of one torrent publish, and what others can learn.
#include "dht/bencode/encode.hpp"
#include "dht/mutable_item.hpp"
#include "overlay/torrent/rendezvous.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace ovl;

namespace {
std::vector<std::uint8_t> info_hash(std::uint8_t fill, std::size_t size = 20) { return std::vector<std::uint8_t>(size, fill); }
} // namespace

TEST_CASE("every peer of a torrent derives the same rendezvous, and no other torrent does", "[torrent][rendezvous]") {
    const auto a1 = torrent::rendezvous_for(info_hash(0xab));
    const auto a2 = torrent::rendezvous_for(info_hash(0xab));
    const auto b = torrent::rendezvous_for(info_hash(0xac));
    CHECK(a1.hash == a2.hash);
    CHECK(a1.key.public_key_bytes() == a2.key.public_key_bytes());
    CHECK(a1.hash != b.hash);
    CHECK(a1.key.public_key_bytes() != b.key.public_key_bytes());
    // v1 and v2 info-hashes of different torrents never collide either.
    CHECK(torrent::rendezvous_for(info_hash(0xab, 32)).hash != a1.hash);
}

TEST_CASE("the rendezvous reveals nothing of the info-hash", "[torrent][rendezvous]") {
    const auto ih = info_hash(0x5a);
    const auto r = torrent::rendezvous_for(ih);
    REQUIRE(r.hash.size() == 20);
    const std::string raw(ih.begin(), ih.end());
    CHECK(r.hash != raw);
    const auto& key = r.key.public_key_bytes();
    CHECK(std::string(key.begin(), key.end()).find(raw) == std::string::npos);
}

TEST_CASE("slot items are valid BEP 44 items signed with the derived key", "[torrent][rendezvous]") {
    const auto r = torrent::rendezvous_for(info_hash(0x11));
    auto rng = random_source(7);
    const auto peer = overlay::identity::generate(rng);
    const auto salt = torrent::slot_salt(torrent::slot_of(peer.public_key_bytes()));
    const auto value = bencode::encode(torrent::encode_slot({peer.public_key_bytes(), std::nullopt, {}}));
    const std::string encoded(value.begin(), value.end());
    const auto sig = dht::sign_item([&](std::span<const std::uint8_t> m) { return r.key.sign(m); }, salt, 42, encoded);
    dht::mutable_item item{r.key.public_key_bytes(), salt, 42, encoded, sig};
    CHECK(dht::verify_item(item));
    // Anyone else's signature over the same slot is refused by every DHT node.
    const auto other = dht::sign_item([&](std::span<const std::uint8_t> m) { return peer.sign(m); }, salt, 42, encoded);
    CHECK(!dht::verify_item(dht::mutable_item{r.key.public_key_bytes(), salt, 42, encoded, other}));
}

TEST_CASE("peers spread over the slots, and a slot round-trips its peer id", "[torrent][rendezvous]") {
    auto rng = random_source(9);
    std::set<int> used;
    for (int i = 0; i < 64; ++i) {
        const auto peer = overlay::identity::generate(rng);
        const int slot = torrent::slot_of(peer.public_key_bytes());
        REQUIRE(slot >= 0);
        REQUIRE(slot < torrent::rendezvous_slots);
        used.insert(slot);
        const auto back = torrent::decode_slot(torrent::encode_slot({peer.public_key_bytes(), std::nullopt, {}}));
        REQUIRE(back);
        CHECK(back->peer == peer.public_key_bytes());
        CHECK(!back->bridge);
    }
    CHECK(used.size() == static_cast<std::size_t>(torrent::rendezvous_slots));
}

TEST_CASE("a slot names the peer's bridge endpoint, which others dial when libtorrent cannot reach it",
          "[torrent][rendezvous]") {
    auto rng = random_source(11);
    const auto peer = overlay::identity::generate(rng);
    const auto bridge = overlay::identity::generate(rng);
    const auto back =
        torrent::decode_slot(torrent::encode_slot({peer.public_key_bytes(), bridge.public_key_bytes(), "nat-symmetric"}));
    REQUIRE(back);
    CHECK(back->peer == peer.public_key_bytes());
    CHECK(back->bridge == bridge.public_key_bytes());
    CHECK(back->nat == "nat-symmetric");
    // A malformed bridge key leaves the peer usable over libtorrent alone.
    const auto odd = torrent::decode_slot(
        bencode::value(bencode::dict{{"k", std::string(32, 'x')}, {"b", std::string(5, 'y')}}));
    REQUIRE(odd);
    CHECK(!odd->bridge);
}

TEST_CASE("hostile slot values are refused", "[torrent][rendezvous][hostile]") {
    using bencode::value;
    CHECK(!torrent::decode_slot(value(std::int64_t{5})));
    CHECK(!torrent::decode_slot(value(std::string(32, 'x'))));
    CHECK(!torrent::decode_slot(value(bencode::dict{})));
    CHECK(!torrent::decode_slot(value(bencode::dict{{"k", std::string(31, 'x')}})));
    CHECK(!torrent::decode_slot(value(bencode::dict{{"k", std::string(33, 'x')}})));
    CHECK(!torrent::decode_slot(value(bencode::dict{{"k", std::int64_t{1}}})));
    CHECK(torrent::decode_slot(value(bencode::dict{{"k", std::string(32, 'x')}})));
}

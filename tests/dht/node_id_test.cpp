#include "dht/node_id.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::dht;

TEST_CASE("XOR distance orders ids as Kademlia requires", "[node_id]") {
    auto a = *node_id::from_hex("0000000000000000000000000000000000000000");
    auto b = *node_id::from_hex("0000000000000000000000000000000000000001");
    auto c = *node_id::from_hex("8000000000000000000000000000000000000000");
    CHECK(closer_to(a, b, c));
    CHECK_FALSE(closer_to(a, c, b));
    CHECK_FALSE(closer_to(a, b, b));
    CHECK(common_prefix_bits(a, b) == 159);
    CHECK(common_prefix_bits(a, c) == 0);
    CHECK(common_prefix_bits(a, a) == 160);
}

TEST_CASE("hex and raw forms round-trip and reject bad input", "[node_id]") {
    auto id = *node_id::from_hex("0123456789abcdefABCDEF0123456789abcdef01");
    CHECK(id.to_hex() == "0123456789abcdefabcdef0123456789abcdef01");
    CHECK(node_id::from_bytes(id.to_bytes()) == id);
    CHECK_FALSE(node_id::from_hex("0123"));
    CHECK_FALSE(node_id::from_hex("zz23456789abcdefABCDEF0123456789abcdef01"));
    CHECK_FALSE(node_id::from_bytes("short"));
}

TEST_CASE("random ids inside a bucket share exactly the bucket's prefix", "[node_id]") {
    random_source rng(7);
    auto self = node_id::random(rng);
    for (int bits : {0, 1, 7, 8, 63, 158}) {
        auto id = node_id::random_in_bucket(self, bits, rng);
        CHECK(common_prefix_bits(self, id) == bits);
    }
}

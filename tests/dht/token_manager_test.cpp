#include "dht/token_manager.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::dht;
using namespace std::chrono_literals;

TEST_CASE("tokens are bound to the requester's IP and the info-hash", "[token]") {
    random_source rng(21);
    timestamp t0{1000s};
    token_manager tokens(rng, t0);
    auto ip = *ip_address::parse("192.0.2.1");
    auto other_ip = *ip_address::parse("192.0.2.2");
    auto ih = node_id::random(rng);
    auto token = tokens.issue(t0, ip, ih);
    CHECK(tokens.accepts(t0, ip, ih, token));
    CHECK_FALSE(tokens.accepts(t0, other_ip, ih, token));
    CHECK_FALSE(tokens.accepts(t0, ip, node_id::random(rng), token));
    CHECK_FALSE(tokens.accepts(t0, ip, ih, "bogus"));
    CHECK_FALSE(tokens.accepts(t0, ip, ih, ""));
}

TEST_CASE("tokens survive one rotation and expire after two", "[token]") {
    random_source rng(22);
    timestamp t0{1000s};
    token_manager tokens(rng, t0, 5min);
    auto ip = *ip_address::parse("192.0.2.1");
    auto ih = node_id::random(rng);
    auto token = tokens.issue(t0, ip, ih);
    CHECK(tokens.accepts(t0 + 6min, ip, ih, token));
    CHECK_FALSE(tokens.accepts(t0 + 11min, ip, ih, token));
}

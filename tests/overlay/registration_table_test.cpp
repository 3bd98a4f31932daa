// registration_table on its own: capped registrations with expiry.
#include "overlay/registration_table.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::overlay;
using namespace std::chrono_literals;

namespace {

public_key key(std::uint8_t n) {
    public_key k{};
    k.fill(n);
    return k;
}

endpoint ep(std::uint16_t port) { return {ip_address::v4(0xCB007105), port}; }

registration reg(std::uint16_t port, timestamp expires) {
    registration r;
    r.observed = ep(port);
    r.lan = {endpoint{ip_address::v4(0xC0A80002), 6881}};
    r.nat = "nat_cone";
    r.expires = expires;
    return r;
}

} // namespace

TEST_CASE("registration_table: add, find, and who may speak for a key", "[registration_table]") {
    const timestamp t0{1000s};
    registration_table t(4);
    CHECK(t.capacity() == 4);
    CHECK(t.find(t0, key(1)) == nullptr);
    CHECK(t.upsert(t0, key(1), reg(40000, t0 + 60s)) == registration_table::result::added);
    CHECK(t.size() == 1);
    const auto* r = t.find(t0, key(1));
    REQUIRE(r);
    CHECK(r->observed == ep(40000));
    CHECK(r->nat == "nat_cone");
    CHECK(r->lan.size() == 1);
    CHECK(t.find(t0, key(2)) == nullptr);

    CHECK(t.from_registered(t0, key(1), ep(40000)));
    CHECK_FALSE(t.from_registered(t0, key(1), ep(40001)));
    CHECK_FALSE(t.from_registered(t0, key(2), ep(40000)));
}

TEST_CASE("registration_table: a full table refuses new keys; refresh does not count", "[registration_table]") {
    const timestamp t0{1000s};
    registration_table t(2);
    REQUIRE(t.upsert(t0, key(1), reg(40001, t0 + 60s)) == registration_table::result::added);
    REQUIRE(t.upsert(t0, key(2), reg(40002, t0 + 60s)) == registration_table::result::added);
    CHECK(t.upsert(t0, key(3), reg(40003, t0 + 60s)) == registration_table::result::full);
    CHECK(t.size() == 2);
    CHECK(t.find(t0, key(3)) == nullptr);

    // A registered peer refreshes even though the table is full, and the new data wins.
    auto r = reg(41001, t0 + 120s);
    r.port_delta = 2;
    CHECK(t.upsert(t0 + 10s, key(1), r) == registration_table::result::refreshed);
    CHECK(t.size() == 2);
    const auto* found = t.find(t0 + 90s, key(1));
    REQUIRE(found);
    CHECK(found->observed == ep(41001));
    CHECK(found->port_delta == 2);
    CHECK(t.from_registered(t0 + 90s, key(1), ep(41001)));
    CHECK_FALSE(t.from_registered(t0 + 90s, key(1), ep(40001)));
}

TEST_CASE("registration_table: entries expire", "[registration_table]") {
    const timestamp t0{1000s};
    registration_table t(2);
    REQUIRE(t.upsert(t0, key(1), reg(40001, t0 + 60s)) == registration_table::result::added);
    REQUIRE(t.upsert(t0, key(2), reg(40002, t0 + 120s)) == registration_table::result::added);

    CHECK(t.find(t0 + 59s, key(1)) != nullptr);
    CHECK(t.find(t0 + 60s, key(1)) == nullptr);
    CHECK_FALSE(t.from_registered(t0 + 60s, key(1), ep(40001)));
    CHECK(t.find(t0 + 60s, key(2)) != nullptr);

    // An expired entry makes room for a new key in a full table.
    CHECK(t.upsert(t0 + 60s, key(3), reg(40003, t0 + 200s)) == registration_table::result::added);
    CHECK(t.size() == 2);
    CHECK(t.find(t0 + 60s, key(3)) != nullptr);

    t.expire(t0 + 120s);
    CHECK(t.size() == 1);
    CHECK(t.find(t0 + 120s, key(2)) == nullptr);
    CHECK(t.find(t0 + 120s, key(3)) != nullptr);
    t.expire(t0 + 200s);
    CHECK(t.size() == 0);
}

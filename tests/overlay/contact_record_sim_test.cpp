// Contact records (issue 4): a firewalled peer publishes a signed record of how to reach
// it; any peer can fetch and verify it from the DHT; nobody else can replace it.
#include "overlay_swarm.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace ovl;
using namespace std::chrono_literals;

TEST_CASE("a firewalled peer's contact record is found, verified, and cannot be forged", "[overlay][record]") {
    sim::network net(77);
    test::overlay_swarm swarm(net);
    for (int i = 0; i < 12; ++i) {
        swarm.add("open");
        swarm.run_for(100ms);
    }
    swarm.run_for(2s);
    auto& a = swarm.add("port-restricted-cone");
    auto& b = swarm.add("symmetric");
    swarm.run_for(15s);
    REQUIRE(a.node->records_published() >= 1);

    std::optional<std::optional<overlay::contact_record>> fetched;
    const auto a_key = a.node->self().public_key_bytes();
    b.node->fetch_contact(net.now(), a_key, [&](timestamp, std::optional<overlay::contact_record> r) { fetched = r; });
    b.binding->poke();
    net.run_until([&] { return fetched.has_value(); }, net.now() + 30s);
    REQUIRE(fetched);
    REQUIRE(*fetched);
    const auto& record = **fetched;
    auto mine = a.node->registrations().introducers();
    auto listed = record.introducers;
    std::sort(mine.begin(), mine.end());
    std::sort(listed.begin(), listed.end());
    CHECK(listed == mine);
    CHECK(record.nat == "nat-cone");
    REQUIRE(record.observed.size() == 1);
    CHECK(record.observed.front() == *a.node->profile().public_endpoint);

    // B tries to publish a record under A's key, signed with its own: refused before
    // anything is sent, and A's record is still what everyone finds.
    overlay::contact_record forged = record;
    forged.introducers = {b.local};
    std::optional<dht::put_item_result> put;
    b.node->dht().put_item(net.now(), a_key, overlay::contact_salt, 1'000'000, forged.encode(),
                           [&](std::span<const std::uint8_t> m) { return b.node->self().sign(m); },
                           [&](timestamp, const dht::put_item_result& r) { put = r; });
    b.binding->poke();
    net.run_until([&] { return put.has_value(); }, net.now() + 30s);
    REQUIRE(put);
    CHECK(put->status == dht::put_status::bad_signature);
    CHECK(put->stored_at == 0);

    fetched.reset();
    b.node->fetch_contact(net.now(), a_key, [&](timestamp, std::optional<overlay::contact_record> r) { fetched = r; });
    b.binding->poke();
    net.run_until([&] { return fetched.has_value(); }, net.now() + 30s);
    REQUIRE(fetched);
    REQUIRE(*fetched);
    CHECK((*fetched)->introducers == record.introducers);
}

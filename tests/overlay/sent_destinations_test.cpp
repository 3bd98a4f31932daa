// sent_destinations on its own: the endpoints and IPs a node wrote to, bounded.
#include "overlay/sent_destinations.hpp"

#include <catch2/catch.hpp>

using namespace ovl;
using namespace ovl::overlay;

namespace {

endpoint v4(std::uint32_t ip, std::uint16_t port) { return {ip_address::v4(ip), port}; }

} // namespace

TEST_CASE("sent_destinations: endpoints, their IPs and the order of first writes", "[sent_destinations]") {
    random_source rng(1);
    sent_destinations sent(rng);
    const auto a = v4(0xC6336401, 6881);  // 198.51.100.1
    const auto b = v4(0xC6336402, 6881);
    CHECK_FALSE(sent.contains(a));
    CHECK_FALSE(sent.first_write(a.address));

    sent.record(a);
    sent.record(b);
    sent.record({a.address, 7000});  // same IP, another port
    CHECK(sent.contains(a));
    CHECK(sent.contains(endpoint{a.address, 7000}));
    CHECK_FALSE(sent.contains(endpoint{a.address, 7001}));
    CHECK(sent.contains(b.address));
    CHECK(sent.first_write(a.address) == 0u);
    CHECK(sent.first_write(b.address) == 1u);
    CHECK(sent.endpoints() == 3);

    // The same bytes in the other family are another address.
    std::array<std::uint8_t, 16> bytes{0xC6, 0x33, 0x64, 0x01};
    CHECK_FALSE(sent.contains(ip_address::v6(bytes)));
}

TEST_CASE("sent_destinations: keeps everything while growing, forgets all when full", "[sent_destinations]") {
    random_source rng(2);
    sent_destinations sent(rng, 5000);
    for (std::uint32_t i = 0; i < 5000; ++i) sent.record(v4(0x0A000000 + i, static_cast<std::uint16_t>(i)));
    CHECK(sent.endpoints() == 5000);
    int held = 0;
    for (std::uint32_t i = 0; i < 5000; ++i)
        if (sent.contains(v4(0x0A000000 + i, static_cast<std::uint16_t>(i))) &&
            sent.first_write(ip_address::v4(0x0A000000 + i)) == i)
            ++held;
    CHECK(held == 5000);

    // Recording a known endpoint changes nothing; a new one past the bound starts over.
    sent.record(v4(0x0A000000, 0));
    CHECK(sent.endpoints() == 5000);
    sent.record(v4(0x0B000000, 1));
    CHECK(sent.endpoints() == 1);
    CHECK(sent.contains(v4(0x0B000000, 1)));
    CHECK(sent.first_write(ip_address::v4(0x0B000000)) == 0u);
    CHECK_FALSE(sent.contains(v4(0x0A000000, 0)));
}

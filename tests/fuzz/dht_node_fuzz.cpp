// libFuzzer target: a whole DHT node's packet entry point. The first byte picks the
// sender: its low 7 bits the address (so sequences of inputs also exercise per-sender
// state), its top bit the family (192.0.2.x or 2001:db8::x), so both routing tables and
// the IPv6 parts of replies (nodes6, 18-byte peers) are reached.
#include "dht/base/log.hpp"
#include "dht/node.hpp"

#include <array>
#include <chrono>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ovl;
    static timestamp now{std::chrono::seconds(1000)};
    static dht::node node = [] {
        dht::node_config config;
        config.table.one_node_per_ip = false;
        return dht::node(config, random_source(1), null_logger(), now);
    }();
    if (size == 0) return 0;
    now += std::chrono::milliseconds(50);
    const std::uint8_t host = data[0] & 0x7F;
    ip_address address = ip_address::v4(0xC0000200u | host);
    if (data[0] & 0x80) {
        std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
        v6[15] = host;
        address = ip_address::v6(v6);
    }
    const endpoint from{address, static_cast<std::uint16_t>(1024 + data[0])};
    node.on_datagram(now, from, {data + 1, size - 1});
    if (auto d = node.next_deadline(); d && *d <= now) node.on_timeout(now);
    while (node.poll_transmit()) {
    }
    return 0;
}

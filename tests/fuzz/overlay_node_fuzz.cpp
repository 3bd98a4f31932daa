// libFuzzer target: a public overlay node's packet entry points, the node serving as
// introducer and relay: KRPC queries to the introducer service (register, introduce,
// relay, dial-back), punch probes and acks, relayed frames and secure-stream packets. The
// node is dual-stack. The first byte picks the sender (its low six bits: one of 64 in
// 192.0.2.0/26, or with bit 6 set in 2001:db8::/64, so inputs in a row build per-sender
// state); its top bit delivers the datagram to extra socket 1 instead of the node's own.
#include "dht/base/log.hpp"
#include "overlay/identity.hpp"
#include "overlay/overlay_node.hpp"

#include <array>
#include <chrono>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ovl;
    static timestamp now{std::chrono::seconds(1000)};
    static std::unique_ptr<overlay::overlay_node> node = [] {
        overlay::overlay_config config;
        config.local = endpoint{ip_address::v4(0xCB007101u), 6881};  // 203.0.113.1
        config.local6 = endpoint{*ip_address::parse("2001:db8::1"), 6881};
        config.dht.families = {true, true};
        config.assumed_reachability = overlay::reachability::reachable;
        random_source rng(1);
        auto n = std::make_unique<overlay::overlay_node>(config, overlay::identity::generate(rng), random_source(2),
                                                         null_logger(), now);
        n->start(now);
        return n;
    }();
    if (size == 0) return 0;
    now += std::chrono::milliseconds(50);
    const auto host = static_cast<std::uint8_t>(data[0] & 0x3Fu);
    std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
    v6[15] = static_cast<std::uint8_t>(host + 2);
    const endpoint from{(data[0] & 0x40) ? ip_address::v6(v6) : ip_address::v4(0xC0000200u | host),
                        static_cast<std::uint16_t>(1024 + data[0])};
    const bytes_view payload{data + 1, size - 1};
    if (data[0] & 0x80)
        node->on_extra_datagram(now, 1, from, payload);
    else
        node->on_datagram(now, from, payload);
    if (auto d = node->next_deadline(); d && *d <= now) node->on_timeout(now);
    while (node->poll_transmit()) {
    }
    while (node->poll_event()) {
    }
    while (node->poll_released_socket()) {
    }
    return 0;
}

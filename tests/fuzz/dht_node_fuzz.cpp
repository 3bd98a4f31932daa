// libFuzzer target: a whole DHT node's packet entry point. The first byte picks the
// sender's address, so sequences of inputs also exercise per-sender state.
#include "dht/base/log.hpp"
#include "dht/node.hpp"

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
    endpoint from{ip_address::v4(0xC0000200u | data[0]), static_cast<std::uint16_t>(1024 + data[0])};
    node.on_datagram(now, from, {data + 1, size - 1});
    if (auto d = node.next_deadline(); d && *d <= now) node.on_timeout(now);
    while (node.poll_transmit()) {
    }
    return 0;
}

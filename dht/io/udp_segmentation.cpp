#include "dht/io/udp_segmentation.hpp"

namespace ovl::io {

namespace {

bool plain(const outgoing_datagram& d) { return d.ttl == 0 && !d.from_secondary_port; }

} // namespace

std::size_t segment_run(std::span<const outgoing_datagram> batch) {
    if (batch.empty()) return 0;
    const auto& first = batch.front();
    const std::size_t size = first.payload.size();
    if (!plain(first) || size == 0) return 1;
    std::size_t n = 1;
    std::size_t total = size;
    while (n < batch.size() && n < max_segments) {
        const auto& d = batch[n];
        const std::size_t len = d.payload.size();
        if (!plain(d) || d.to != first.to || d.socket != first.socket || len == 0 || len > size || total + len > max_segmented_bytes) break;
        ++n;
        total += len;
        if (len < size) break;   // only the last segment may be shorter
    }
    return n;
}

} // namespace ovl::io

#include "overlay/stream/receive_stream.hpp"

#include <algorithm>

namespace ovl::overlay::stream {

bool receive_stream::on_frame(const stream_frame& f) {
    const auto end = f.offset + f.data.size();
    if (f.fin) {
        if ((final_ && *final_ != end) || end < delivered_) return false;
        final_ = end;
    }
    if (final_ && end > *final_) return false;
    // Beyond the window (a peer ignoring flow control) or already delivered: drop.
    const auto limit = std::min(end, max_data());
    const auto start = std::max(f.offset, delivered_);
    if (limit <= start) return true;
    const auto part = f.data.subspan(static_cast<std::size_t>(start - f.offset), static_cast<std::size_t>(limit - start));
    if (start == delivered_) {
        deliver(part, start);
        return true;
    }
    // Overlapping segments could otherwise pin more than the window.
    auto& slot = out_of_order_[start];
    if (slot.size() < part.size() && out_of_order_bytes_ + part.size() - slot.size() <= window_) {
        out_of_order_bytes_ += part.size() - slot.size();
        slot.assign(part.begin(), part.end());
    }
    if (slot.empty()) out_of_order_.erase(start);
    return true;
}

void receive_stream::deliver(bytes_view data, std::uint64_t offset) {
    ready_.insert(ready_.end(), data.begin() + static_cast<std::ptrdiff_t>(delivered_ - offset), data.end());
    delivered_ = offset + data.size();
    // Pull in buffered segments that now touch or overlap the in-order end.
    while (!out_of_order_.empty() && out_of_order_.begin()->first <= delivered_) {
        auto node = out_of_order_.extract(out_of_order_.begin());
        out_of_order_bytes_ -= node.mapped().size();
        const auto seg_end = node.key() + node.mapped().size();
        if (seg_end > delivered_) {
            ready_.insert(ready_.end(), node.mapped().begin() + static_cast<std::ptrdiff_t>(delivered_ - node.key()),
                          node.mapped().end());
            delivered_ = seg_end;
        }
    }
}

bytes receive_stream::read() {
    bytes out;
    out.swap(ready_);
    consumed_ += out.size();
    return out;
}

} // namespace ovl::overlay::stream

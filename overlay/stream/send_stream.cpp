#include "overlay/stream/send_stream.hpp"

#include <algorithm>

namespace ovl::overlay::stream {

std::size_t send_stream::write(bytes_view data) {
    if (fin_requested_) return 0;
    const auto n = std::min(data.size(), capacity_ - buffered());
    buffer_.insert(buffer_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    write_offset_ += n;
    return n;
}

bool send_stream::has_sendable() const {
    return !lost_.empty() || (next_offset_ < write_offset_ && next_offset_ < peer_limit_) ||
           (fin_requested_ && !fin_sent_ && next_offset_ == write_offset_);
}

std::optional<chunk> send_stream::next_chunk(std::size_t max_length) {
    if (!lost_.empty()) {
        const auto offset = *lost_.begin();
        const auto& s = chunks_.at(offset);
        if (s.length > max_length) return std::nullopt;
        lost_.erase(lost_.begin());
        return chunk{offset, s.length, s.fin, true};
    }
    const auto allowed = std::min(write_offset_, std::max(peer_limit_, next_offset_)) - next_offset_;
    const auto length = static_cast<std::uint32_t>(std::min<std::uint64_t>(allowed, max_length));
    const bool fin = fin_requested_ && !fin_sent_ && next_offset_ + length == write_offset_;
    if (length == 0 && !fin) return std::nullopt;
    chunk c{next_offset_, length, fin, false};
    chunks_.emplace(c.offset, chunk_state{c.length, c.fin, false});
    next_offset_ += length;
    fin_sent_ = fin_sent_ || fin;
    return c;
}

bytes_view send_stream::data(const chunk& c) const {
    return bytes_view(buffer_).subspan(static_cast<std::size_t>(c.offset - buffer_start_), c.length);
}

void send_stream::on_acked(const chunk& c) {
    auto it = chunks_.find(c.offset);
    if (it == chunks_.end() || it->second.acked) return;
    it->second.acked = true;
    lost_.erase(c.offset);
    if (it->second.fin) fin_acked_ = true;
    while (!chunks_.empty() && chunks_.begin()->second.acked) {
        acked_offset_ = chunks_.begin()->first + chunks_.begin()->second.length;
        chunks_.erase(chunks_.begin());
    }
    // Trim the acked prefix once it is at least half the buffer: amortised O(1) per byte.
    const auto acked_in_buffer = static_cast<std::size_t>(acked_offset_ - buffer_start_);
    if (acked_in_buffer > 0 && acked_in_buffer * 2 >= buffer_.size()) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(acked_in_buffer));
        buffer_start_ = acked_offset_;
    }
}

void send_stream::on_lost(const chunk& c) {
    auto it = chunks_.find(c.offset);
    if (it != chunks_.end() && !it->second.acked) lost_.insert(c.offset);
}

} // namespace ovl::overlay::stream

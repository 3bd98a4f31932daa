// The sending half of the byte stream: a bounded buffer of bytes the application wrote
// and the peer has not yet acknowledged, cut into chunks as they are first sent. A chunk
// keeps its offset and length for life, so a lost one is resent as is and the receiver
// can drop duplicates by offset. Acknowledged chunks at the front free their bytes.
#pragma once

#include "dht/base/datagram.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>

namespace ovl::overlay::stream {

struct chunk {
    std::uint64_t offset = 0;
    std::uint32_t length = 0;
    bool fin = false;
    bool retransmission = false;
};

// Every receiver accepts at least this much before its first ACK says otherwise, so
// the initiator's first data can ride right behind its FINISH.
inline constexpr std::uint64_t initial_max_data = 64 * 1024;

class send_stream {
public:
    explicit send_stream(std::size_t capacity) : capacity_(capacity) {}

    // Copies as much of `data` as the buffer has room for; returns how much that was.
    std::size_t write(bytes_view data);
    // No more writes: a FIN follows the buffered bytes.
    void finish() { fin_requested_ = true; }
    bool finish_requested() const { return fin_requested_; }

    // The next chunk to put on the wire: lost chunks first (lowest offset first), then new
    // bytes within the peer's flow-control limit, at most `max_length` bytes. nullopt when
    // nothing may be sent, or when the next lost chunk is longer than `max_length`.
    std::optional<chunk> next_chunk(std::size_t max_length);
    bytes_view data(const chunk& c) const;

    void on_acked(const chunk& c);
    void on_lost(const chunk& c);
    void set_peer_limit(std::uint64_t max_data) { peer_limit_ = std::max(peer_limit_, max_data); }

    bool has_sendable() const;
    // Bytes wait for the peer's window to open.
    bool blocked_by_peer() const { return next_offset_ < write_offset_ && next_offset_ >= peer_limit_; }
    bool fin_acked() const { return fin_acked_; }
    std::size_t buffered() const { return static_cast<std::size_t>(write_offset_ - acked_offset_); }
    std::uint64_t bytes_acked() const { return acked_offset_; }

private:
    struct chunk_state {
        std::uint32_t length;
        bool fin;
        bool acked;
    };

    std::size_t capacity_;
    bytes buffer_;               // bytes from buffer_start_ on; the acked prefix is trimmed lazily
    std::uint64_t buffer_start_ = 0;
    std::uint64_t acked_offset_ = 0; // everything below is acknowledged
    std::uint64_t next_offset_ = 0;  // first byte not yet in any chunk
    std::uint64_t write_offset_ = 0; // end of the written bytes
    std::uint64_t peer_limit_ = initial_max_data;
    std::map<std::uint64_t, chunk_state> chunks_; // sent and not yet freed, by offset
    std::set<std::uint64_t> lost_;                // offsets of chunks to resend
    bool fin_requested_ = false;
    bool fin_sent_ = false;
    bool fin_acked_ = false;
};

} // namespace ovl::overlay::stream

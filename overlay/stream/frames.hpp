// The frames inside a sealed data packet. A packet holds any number of frames, each
// introduced by a type byte; a packet that fails to parse is dropped whole.
//
//   PING    0x01                                   ack-eliciting, no body (keepalive, probe)
//   ACK     0x02 largest:u64 delay_us:u32 max_data:u64 n:u8 first_len:u32 (gap:u32 len:u32)*(n-1)
//   STREAM  0x03 offset:u64 len:u16 data           0x04 = the same with FIN (last byte of stream)
//   ABORT   0x05 len:u8 reason                     the peer gives up; the stream fails
//
// ACK ranges run downward from `largest`: the first covers [largest-first_len+1, largest],
// each next one starts `gap` numbers below the previous range's low end (gap >= 1).
// max_data is the flow-control limit: the peer may send stream bytes below this offset.
#pragma once

#include "dht/base/datagram.hpp"
#include "dht/base/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace ovl::overlay::stream {

struct ack_range {
    std::uint64_t low;
    std::uint64_t high; // inclusive
};

struct ping_frame {};
struct ack_frame {
    std::vector<ack_range> ranges; // descending, disjoint, non-adjacent; at least one
    duration ack_delay{};
    std::uint64_t max_data = 0;
};
struct stream_frame {
    std::uint64_t offset = 0;
    bytes_view data; // points into the decoded packet
    bool fin = false;
};
struct abort_frame {
    std::string reason;
};

using frame = std::variant<ping_frame, ack_frame, stream_frame, abort_frame>;

inline constexpr std::size_t max_ack_ranges = 8;
inline constexpr std::size_t max_ack_frame_size = 1 + 8 + 4 + 8 + 1 + 4 + (max_ack_ranges - 1) * 8;
inline constexpr std::size_t stream_frame_overhead = 1 + 8 + 2;

void encode(bytes& out, const frame& f);
// nullopt when any frame is malformed; the views in stream frames point into `plaintext`.
std::optional<std::vector<frame>> decode_frames(bytes_view plaintext);

} // namespace ovl::overlay::stream

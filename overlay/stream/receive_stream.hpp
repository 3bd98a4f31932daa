// The receiving half of the byte stream: reassembles stream frames into order and holds
// the in-order bytes until the application reads them. Flow control: the peer may send
// only below read_offset + window (advertised as max_data in every ACK), and anything
// beyond is dropped, so a reader that never reads pins at most `window` bytes here.
#pragma once

#include "overlay/stream/frames.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

namespace ovl::overlay::stream {

class receive_stream {
public:
    explicit receive_stream(std::size_t window) : window_(window) {}

    // False when the frame contradicts the stream (data past the FIN, a second FIN
    // elsewhere): the peer is broken or hostile.
    bool on_frame(const stream_frame& f);
    // Every in-order byte received so far, moved out.
    bytes read();

    std::uint64_t max_data() const { return consumed_ + window_; }
    // The window has opened by half since last advertised: worth telling the peer now.
    bool window_update_due() const { return max_data() - advertised_ >= window_ / 2; }
    void advertised() { advertised_ = max_data(); }

    // The peer sent FIN and every byte before it has arrived.
    bool complete() const { return final_ && delivered_ == *final_; }
    // ... and the application has read them all.
    bool finished() const { return complete() && ready_.empty(); }

private:
    void deliver(bytes_view data, std::uint64_t offset);

    std::size_t window_;
    bytes ready_;                  // in order, unread
    std::uint64_t delivered_ = 0;  // end of the in-order bytes
    std::uint64_t consumed_ = 0;   // end of what the application read
    std::uint64_t advertised_ = 0;
    std::map<std::uint64_t, bytes> out_of_order_;
    std::size_t out_of_order_bytes_ = 0;
    std::optional<std::uint64_t> final_;
};

} // namespace ovl::overlay::stream

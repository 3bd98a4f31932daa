// An end-to-end encrypted, mutually authenticated, reliable, ordered byte stream over a
// datagram path (punched or relayed UDP). Sans-I/O: the owner feeds datagrams and time
// in and sends what poll_packet() returns; nothing here reads a clock, owns a socket or
// draws randomness except from the random_source it is given.
//
// Every packet starts with a byte in 0x10-0x1F followed by a clear 64-bit connection id,
// so the owner of a socket shared with the DHT can route it (connection_id()), and make
// a responder when is_handshake_init() and the id is unknown. See handshake.hpp for the
// key exchange, packet_crypto.hpp for sealing, reliable_channel.hpp for delivery.
#pragma once

#include "dht/base/datagram.hpp"
#include "dht/base/log.hpp"
#include "dht/base/random.hpp"
#include "overlay/identity.hpp"
#include "overlay/stream/handshake.hpp"
#include "overlay/stream/packet_crypto.hpp"
#include "overlay/stream/reliable_channel.hpp"

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace ovl::overlay {

struct stream_config : stream::channel_config {
    // Send something at least this often on an idle path (keeps NAT mappings open too).
    duration keepalive_interval = std::chrono::seconds(15);
    // Nothing authenticated received for this long: the path is dead.
    duration idle_timeout = std::chrono::seconds(30);
    duration handshake_timeout = std::chrono::seconds(10);
};

class secure_stream {
public:
    enum class role { initiator, responder };
    enum class state { handshaking, open, closed, failed };
    using stats_type = stream::channel_stats;

    // `self` must outlive the stream. An initiator with `expected_peer` fails unless the
    // responder proves that key; a responder learns its peer from the handshake and the
    // owner decides whether to keep it (abort() otherwise). An initiator draws its
    // connection id from `rng` when `connection_id` is 0; a responder takes the id of the
    // INIT that made the owner create it.
    secure_stream(role r, const identity& self, std::optional<public_key> expected_peer,
                  std::uint64_t connection_id, random_source rng, logger_ptr log, timestamp now,
                  stream_config cfg = {});
    ~secure_stream();
    secure_stream(const secure_stream&) = delete;
    secure_stream& operator=(const secure_stream&) = delete;

    // Routing helpers for the socket owner: the id of any stream packet, and whether the
    // datagram is a well-formed handshake initiation.
    static std::optional<std::uint64_t> connection_id(bytes_view datagram);
    static bool is_handshake_init(bytes_view datagram);

    void on_packet(timestamp now, bytes_view datagram);
    // The next datagram to send on the path; call until nullopt after every other call.
    std::optional<bytes> poll_packet(timestamp now);
    std::optional<timestamp> next_deadline() const;
    void on_timeout(timestamp now);

    // Bytes accepted into the bounded send buffer (may be fewer than offered; 0 once
    // close() was called). Writing while handshaking is fine: data leaves once open.
    std::size_t write(bytes_view data);
    // Every byte received in order so far, moved out. Reading opens the peer's window.
    bytes read();
    // Graceful close of our direction: buffered bytes, then FIN. The stream is `closed`
    // when both directions have finished.
    void close();
    // Abandon the stream now; the peer fails with "peer aborted: <reason>".
    void abort(const std::string& reason);

    state current_state() const { return state_; }
    const std::string& failure_reason() const { return failure_; }
    std::optional<public_key> peer() const { return peer_; }
    std::uint64_t id() const { return cid_; }
    // The peer has closed its direction and everything it sent has been read.
    bool peer_finished() const { return channel_.peer_finished(); }
    // Bytes written and not yet acknowledged (bounded by send_buffer).
    std::size_t send_buffered() const { return channel_.send_buffered(); }
    stats_type stats() const { return channel_.stats(); }

private:
    void on_handshake_packet(timestamp now, bytes_view datagram);
    void on_data_packet(timestamp now, bytes_view datagram);
    void established(timestamp now, stream::handshake_done done);
    void fail(std::string reason);
    void update_closed();

    role role_;
    const identity& self_;
    random_source rng_;
    logger_ptr log_;
    stream_config cfg_;
    std::uint64_t cid_;
    state state_ = state::handshaking;
    std::string failure_;
    std::optional<public_key> peer_;

    std::unique_ptr<stream::initiator_handshake> initiator_;
    std::unique_ptr<stream::responder_handshake> responder_;
    std::deque<bytes> handshake_out_;
    timestamp started_;
    timestamp handshake_resend_at_;
    duration handshake_backoff_;
    // The FINISH sent (initiator: resent until the responder proves it has the keys) or
    // accepted (responder: a repeat of it asks for that proof again).
    bytes finish_packet_;
    bool finish_confirmed_ = false;

    std::unique_ptr<stream::packet_sealer> sealer_;
    std::unique_ptr<stream::packet_opener> opener_;
    stream::reliable_channel channel_; // exists from the start, so writes can precede the keys
    bool abort_unsent_ = false;
    timestamp last_sent_;
    timestamp last_received_;
};

} // namespace ovl::overlay

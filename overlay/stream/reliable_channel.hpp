// Reliability over authenticated packets: packet numbers, acknowledgements, loss
// detection and retransmission, congestion and flow control, for one ordered byte stream
// in each direction. It sees plaintext frames only; secure_stream seals what it emits.
//
// Loss detection follows RFC 9002 in spirit: a packet is lost when one sent 3 later was
// acknowledged, or when it is older than 9/8 RTT behind an acknowledged one (both limits
// widen when a packet called lost is acknowledged later: reordering); if nothing
// is acknowledged for an RTO (RFC 6298, exponential backoff), everything in flight is
// declared lost and the window collapses. Before that, one tail-loss probe at 2 srtt
// (RACK-TLP style) asks for an ACK so a lost tail is found without the collapse. Acks are sent for every second ack-eliciting
// packet, at once for out-of-order ones, and otherwise after max_ack_delay.
#pragma once

#include "overlay/stream/congestion.hpp"
#include "overlay/stream/frames.hpp"
#include "overlay/stream/receive_stream.hpp"
#include "overlay/stream/send_stream.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ovl::overlay::stream {

struct channel_config {
    duration initial_rto = std::chrono::seconds(1);
    duration min_rto = std::chrono::milliseconds(200);
    duration max_ack_delay = std::chrono::milliseconds(25);
    std::size_t send_buffer = 1 << 20;
    std::size_t receive_window = 1 << 20; // raised to initial_max_data if smaller
    std::size_t max_window_packets = 1024;
};

struct channel_stats {
    duration srtt{};
    std::uint64_t bytes_sent = 0;  // stream bytes put on the wire, retransmissions included
    std::uint64_t bytes_acked = 0; // stream bytes the peer acknowledged in order
    std::uint64_t retransmits = 0; // chunks sent again
    std::uint64_t packets_lost_detected = 0;
    std::size_t congestion_window = 0; // packets
};

class reliable_channel {
public:
    explicit reliable_channel(const channel_config& cfg);

    // The frames of one authenticated packet. False when the peer broke the stream's rules.
    bool on_packet(timestamp now, std::uint64_t packet_number, const std::vector<frame>& frames);

    struct outgoing {
        std::uint64_t packet_number;
        bytes plaintext;
    };
    std::optional<outgoing> poll(timestamp now);
    std::optional<timestamp> next_deadline() const;
    void on_timeout(timestamp now);

    std::size_t write(bytes_view data) { return send_.write(data); }
    bytes read() { return recv_.read(); }
    void finish() { send_.finish(); }
    void queue_ping() { ping_pending_ = true; }
    void queue_abort(std::string reason) { abort_pending_ = std::move(reason); }

    // Both directions ended with FIN and were acknowledged / received in full.
    bool closed() const { return send_.fin_acked() && recv_.complete(); }
    bool peer_finished() const { return recv_.finished(); }
    const std::optional<std::string>& peer_abort() const { return peer_abort_; }
    std::size_t send_buffered() const { return send_.buffered(); }
    channel_stats stats() const;

private:
    struct sent_packet {
        timestamp sent;
        std::optional<chunk> data;
    };

    void record_received(std::uint64_t pn);
    void on_ack(timestamp now, const ack_frame& ack);
    void detect_lost(timestamp now);
    void on_retransmission_timeout();
    void lose(std::map<std::uint64_t, sent_packet>::iterator it);
    ack_frame build_ack(timestamp now);
    duration backed_off_rto() const;
    std::optional<timestamp> probe_time() const;

    channel_config cfg_;
    send_stream send_;
    receive_stream recv_;
    rtt_estimator rtt_;
    newreno cc_;

    std::uint64_t next_pn_ = 0;
    std::map<std::uint64_t, sent_packet> in_flight_; // ack-eliciting packets only
    std::optional<std::uint64_t> largest_acked_;
    std::optional<timestamp> loss_time_;
    std::uint64_t packet_threshold_ = 3;      // RFC 9002's kPacketThreshold, widened on reordering
    unsigned time_threshold_eighths_ = 9;     // 9/8 RTT, widened on reordering
    std::set<std::uint64_t> recently_lost_;   // to notice losses that were only reordering
    timestamp last_eliciting_sent_{};
    unsigned rto_backoff_ = 0;
    unsigned persist_backoff_ = 0;
    bool ping_pending_ = false;
    bool probe_pending_ = false; // a tail-loss probe may exceed the congestion window
    bool probe_sent_ = false;    // one probe per flight, re-armed by the next new ack
    std::optional<std::string> abort_pending_;
    std::optional<std::string> peer_abort_;

    std::vector<ack_range> received_; // descending; the newest few ranges
    timestamp largest_received_at_{};
    unsigned unacked_eliciting_ = 0;
    bool ack_now_ = false;
    std::optional<timestamp> ack_deadline_;

    channel_stats stats_;
};

} // namespace ovl::overlay::stream

// Round-trip estimation and congestion control for the reliable channel.
//
// rtt_estimator follows RFC 6298: srtt/rttvar smoothing, RTO = srtt + max(1 ms, 4 rttvar)
// + the peer's maximum ack delay, never below min_rto (200 ms by default), 1 s before
// the first sample. Samples come from packet numbers, which are never reused, so every
// sample is unambiguous (no Karn's rule needed).
//
// newreno is AIMD counted in packets (all full-size but the last of a burst): slow start
// from 10 packets, +1 per ack; after ssthresh, +1 per window of acks; on loss, halve once
// per round trip (losses of packets sent before the reduction do not reduce again); on a
// retransmission timeout, drop to 2 packets. The window is capped (max_window) so that
// in-flight bookkeeping stays bounded. There is no pacing: a window goes out as a burst.
#pragma once

#include "dht/base/time.hpp"

#include <cstddef>
#include <cstdint>

namespace ovl::overlay::stream {

class rtt_estimator {
public:
    rtt_estimator(duration initial_rto, duration min_rto, duration max_ack_delay)
        : initial_rto_(initial_rto), min_rto_(min_rto), max_ack_delay_(max_ack_delay) {}

    void on_sample(duration rtt, duration peer_ack_delay);
    bool has_sample() const { return has_sample_; }
    duration srtt() const { return srtt_; }
    duration rto() const;
    // How long after a later packet was acknowledged an earlier one counts as lost.
    duration loss_delay() const;

private:
    duration initial_rto_, min_rto_, max_ack_delay_;
    duration srtt_{}, rttvar_{}, latest_{};
    bool has_sample_ = false;
};

class newreno {
public:
    explicit newreno(std::size_t max_window) : max_window_(max_window) {}

    std::size_t window() const { return cwnd_; }
    void on_acked(std::uint64_t pn);
    // `next_pn` is the number the next sent packet will get: losses below it belong to
    // this congestion event.
    void on_lost(std::uint64_t pn, std::uint64_t next_pn);
    void on_timeout(std::uint64_t next_pn);

private:
    static constexpr std::size_t min_window = 2;
    std::size_t max_window_;
    std::size_t cwnd_ = 10;
    std::size_t ssthresh_ = SIZE_MAX;
    std::size_t acked_in_round_ = 0;
    std::uint64_t recovery_end_ = 0;
    bool in_recovery_ = false;
};

} // namespace ovl::overlay::stream

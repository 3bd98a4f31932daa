#include "overlay/stream/congestion.hpp"

#include <algorithm>
#include <chrono>

namespace ovl::overlay::stream {

using namespace std::chrono_literals;

void rtt_estimator::on_sample(duration rtt, duration peer_ack_delay) {
    latest_ = rtt;
    // Time the peer sat on the ack is not path delay, unless that would make it negative.
    const auto adjusted = rtt - std::min(peer_ack_delay, max_ack_delay_) > 0ns
                              ? rtt - std::min(peer_ack_delay, max_ack_delay_)
                              : rtt;
    if (!has_sample_) {
        srtt_ = adjusted;
        rttvar_ = adjusted / 2;
        has_sample_ = true;
        return;
    }
    const auto err = srtt_ > adjusted ? srtt_ - adjusted : adjusted - srtt_;
    rttvar_ = (3 * rttvar_ + err) / 4;
    srtt_ = (7 * srtt_ + adjusted) / 8;
}

duration rtt_estimator::rto() const {
    if (!has_sample_) return initial_rto_;
    return std::max(min_rto_, srtt_ + std::max<duration>(1ms, 4 * rttvar_) + max_ack_delay_);
}

duration rtt_estimator::loss_delay() const {
    const auto base = has_sample_ ? std::max(srtt_, latest_) : initial_rto_;
    return std::max<duration>(1ms, base * 9 / 8);
}

void newreno::on_acked(std::uint64_t pn) {
    if (in_recovery_ && pn < recovery_end_) return;
    in_recovery_ = false;
    if (cwnd_ >= max_window_) return;
    if (cwnd_ < ssthresh_) {
        ++cwnd_;
        return;
    }
    if (++acked_in_round_ >= cwnd_) {
        acked_in_round_ = 0;
        ++cwnd_;
    }
}

void newreno::on_lost(std::uint64_t pn, std::uint64_t next_pn) {
    if (in_recovery_ && pn < recovery_end_) return;
    ssthresh_ = std::max(min_window, cwnd_ / 2);
    cwnd_ = ssthresh_;
    acked_in_round_ = 0;
    recovery_end_ = next_pn;
    in_recovery_ = true;
}

void newreno::on_timeout(std::uint64_t next_pn) {
    ssthresh_ = std::max(min_window, cwnd_ / 2);
    cwnd_ = min_window;
    acked_in_round_ = 0;
    recovery_end_ = next_pn;
    in_recovery_ = true;
}

} // namespace ovl::overlay::stream

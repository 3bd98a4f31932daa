#include "overlay/stream/reliable_channel.hpp"

#include "overlay/stream/wire.hpp"

#include <algorithm>

namespace ovl::overlay::stream {

namespace {

// How many received ranges we remember; acks carry the newest max_ack_ranges of them.
constexpr std::size_t tracked_ranges = 32;
constexpr unsigned max_backoff = 8;
// Spurious-loss detection remembers this many recent losses.
constexpr std::size_t tracked_losses = 256;
constexpr std::uint64_t max_packet_threshold = 64;
constexpr unsigned max_time_threshold_eighths = 16;

std::size_t ack_frame_size(std::size_t ranges) { return 1 + 8 + 4 + 8 + 1 + 4 + (ranges - 1) * 8; }

} // namespace

reliable_channel::reliable_channel(const channel_config& cfg)
    : cfg_(cfg), send_(cfg.send_buffer),
      recv_(std::max<std::size_t>(cfg.receive_window, initial_max_data)),
      rtt_(cfg.initial_rto, cfg.min_rto, cfg.max_ack_delay), cc_(cfg.max_window_packets) {}

bool reliable_channel::on_packet(timestamp now, std::uint64_t pn, const std::vector<frame>& frames) {
    const bool in_order = received_.empty() || pn == received_.front().high + 1;
    if (received_.empty() || pn > received_.front().high) largest_received_at_ = now;
    record_received(pn);
    bool eliciting = false;
    for (const auto& f : frames) {
        if (std::holds_alternative<ping_frame>(f)) {
            eliciting = true;
        } else if (const auto* a = std::get_if<ack_frame>(&f)) {
            on_ack(now, *a);
        } else if (const auto* s = std::get_if<stream_frame>(&f)) {
            eliciting = true;
            if (!recv_.on_frame(*s)) return false;
        } else if (const auto* ab = std::get_if<abort_frame>(&f)) {
            peer_abort_ = ab->reason;
        }
    }
    if (eliciting) {
        ++unacked_eliciting_;
        if (!in_order || unacked_eliciting_ >= 2) ack_now_ = true;
        else if (!ack_deadline_) ack_deadline_ = now + cfg_.max_ack_delay;
    }
    return true;
}

void reliable_channel::record_received(std::uint64_t pn) {
    auto& r = received_;
    std::size_t i = 0;
    for (; i < r.size(); ++i) {
        if (pn > r[i].high + 1) break;
        if (pn == r[i].high + 1) {
            r[i].high = pn;
            if (i > 0 && r[i - 1].low == pn + 1) {
                r[i - 1].low = r[i].low;
                r.erase(r.begin() + static_cast<std::ptrdiff_t>(i));
            }
            return;
        }
        if (pn >= r[i].low) return;
        if (pn + 1 == r[i].low) {
            r[i].low = pn;
            if (i + 1 < r.size() && r[i + 1].high + 1 == pn) {
                r[i].low = r[i + 1].low;
                r.erase(r.begin() + static_cast<std::ptrdiff_t>(i + 1));
            }
            return;
        }
    }
    r.insert(r.begin() + static_cast<std::ptrdiff_t>(i), ack_range{pn, pn});
    if (r.size() > tracked_ranges) r.pop_back();
}

void reliable_channel::on_ack(timestamp now, const ack_frame& ack) {
    // An ack for a number we never used is forged or broken; the rest of it is suspect too.
    if (ack.ranges.front().high >= next_pn_) return;
    send_.set_peer_limit(ack.max_data);
    if (!send_.blocked_by_peer()) persist_backoff_ = 0;
    bool acked_any = false;
    for (const auto& range : ack.ranges) {
        for (auto it = in_flight_.lower_bound(range.low); it != in_flight_.end() && it->first <= range.high;) {
            if (it->first == ack.ranges.front().high) rtt_.on_sample(now - it->second.sent, ack.ack_delay);
            cc_.on_acked(it->first);
            if (it->second.data) send_.on_acked(*it->second.data);
            acked_any = true;
            it = in_flight_.erase(it);
        }
        // A packet we called lost arrived after all: the path reorders more than we
        // allowed for. Widen both loss thresholds (RACK-like), up to a limit.
        for (auto it = recently_lost_.lower_bound(range.low); it != recently_lost_.end() && *it <= range.high;) {
            it = recently_lost_.erase(it);
            packet_threshold_ = std::min<std::uint64_t>(packet_threshold_ * 2, max_packet_threshold);
            time_threshold_eighths_ = std::min(time_threshold_eighths_ + 2, max_time_threshold_eighths);
        }
    }
    if (acked_any) {
        rto_backoff_ = 0;
        probe_sent_ = false;
    }
    largest_acked_ = std::max(largest_acked_.value_or(0), ack.ranges.front().high);
    detect_lost(now);
}

void reliable_channel::lose(std::map<std::uint64_t, sent_packet>::iterator it) {
    ++stats_.packets_lost_detected;
    recently_lost_.insert(it->first);
    if (recently_lost_.size() > tracked_losses) recently_lost_.erase(recently_lost_.begin());
    if (it->second.data) send_.on_lost(*it->second.data);
    in_flight_.erase(it);
}

void reliable_channel::detect_lost(timestamp now) {
    loss_time_.reset();
    if (!largest_acked_) return;
    const auto delay = rtt_.loss_delay() * time_threshold_eighths_ / 9;
    for (auto it = in_flight_.begin(); it != in_flight_.end() && it->first < *largest_acked_;) {
        if (*largest_acked_ - it->first >= packet_threshold_ || it->second.sent + delay <= now) {
            cc_.on_lost(it->first, next_pn_);
            auto lost = it++;
            lose(lost);
        } else {
            const auto at = it->second.sent + delay;
            loss_time_ = loss_time_ ? std::min(*loss_time_, at) : at;
            ++it;
        }
    }
}

void reliable_channel::on_retransmission_timeout() {
    while (!in_flight_.empty()) lose(in_flight_.begin());
    loss_time_.reset();
    cc_.on_timeout(next_pn_);
    rto_backoff_ = std::min(rto_backoff_ + 1, max_backoff);
    // Nothing to resend (a lost keepalive, or data the peer's window holds back): probe.
    if (!send_.has_sendable()) ping_pending_ = true;
}

duration reliable_channel::backed_off_rto() const {
    // While the peer's window is shut, probes back off on their own count: their acks
    // prove the path works, but not that the window opened.
    const auto shift = in_flight_.empty() && send_.blocked_by_peer() ? persist_backoff_ : rto_backoff_;
    return rtt_.rto() * (1 << shift);
}

ack_frame reliable_channel::build_ack(timestamp now) {
    ack_frame a;
    const auto n = std::min(received_.size(), max_ack_ranges);
    a.ranges.assign(received_.begin(), received_.begin() + static_cast<std::ptrdiff_t>(n));
    a.ack_delay = now - largest_received_at_;
    a.max_data = recv_.max_data();
    recv_.advertised();
    unacked_eliciting_ = 0;
    ack_now_ = false;
    ack_deadline_.reset();
    return a;
}

std::optional<reliable_channel::outgoing> reliable_channel::poll(timestamp now) {
    if (abort_pending_) {
        outgoing out{next_pn_++, {}};
        encode(out.plaintext, abort_frame{*abort_pending_});
        abort_pending_.reset();
        return out;
    }
    const bool have_ranges = !received_.empty();
    const bool ack_due = have_ranges && (ack_now_ || (ack_deadline_ && *ack_deadline_ <= now) || recv_.window_update_due());
    const bool with_ack = ack_due || (have_ranges && unacked_eliciting_ > 0);
    const std::size_t ack_room = with_ack ? ack_frame_size(std::min(received_.size(), max_ack_ranges)) : 0;

    std::optional<chunk> c;
    // A tail-loss probe goes out even when the window is full.
    const bool may_send = in_flight_.size() < cc_.window() || probe_pending_;
    if (may_send) c = send_.next_chunk(max_plaintext_size - ack_room - stream_frame_overhead - (ping_pending_ ? 1 : 0));
    const bool ping = ping_pending_ && may_send;
    if (!c && !ping && !ack_due) return std::nullopt;

    outgoing out{next_pn_++, {}};
    out.plaintext.reserve(max_plaintext_size);
    if (with_ack) encode(out.plaintext, build_ack(now));
    if (ping) {
        encode(out.plaintext, ping_frame{});
        ping_pending_ = false;
    }
    if (c) {
        encode(out.plaintext, stream_frame{c->offset, send_.data(*c), c->fin});
        stats_.bytes_sent += c->length;
        if (c->retransmission) ++stats_.retransmits;
    }
    if (c || ping) {
        probe_pending_ = false;
        in_flight_.emplace(out.packet_number, sent_packet{now, c});
        last_eliciting_sent_ = now;
    }
    return out;
}

std::optional<timestamp> reliable_channel::next_deadline() const {
    std::optional<timestamp> d = ack_deadline_;
    const auto earliest = [&d](timestamp t) { d = d ? std::min(*d, t) : t; };
    if (loss_time_) earliest(*loss_time_);
    else if (!in_flight_.empty() || send_.blocked_by_peer()) earliest(last_eliciting_sent_ + backed_off_rto());
    if (auto probe = probe_time()) earliest(*probe);
    return d;
}

std::optional<timestamp> reliable_channel::probe_time() const {
    if (in_flight_.empty() || loss_time_ || probe_sent_ || !rtt_.has_sample()) return std::nullopt;
    const auto at = last_eliciting_sent_ + std::max<duration>(2 * rtt_.srtt(), std::chrono::milliseconds(10)) +
                    cfg_.max_ack_delay;
    return at < last_eliciting_sent_ + backed_off_rto() ? std::optional(at) : std::nullopt;
}

void reliable_channel::on_timeout(timestamp now) {
    if (ack_deadline_ && *ack_deadline_ <= now) ack_now_ = true;
    if (auto probe = probe_time(); probe && *probe <= now) {
        // The tail of a flight may be lost with nothing after it to reveal that: one
        // probe (new data if any, and a PING) draws an ACK that drives loss detection
        // long before the RTO would fire and collapse the window.
        probe_sent_ = true;
        probe_pending_ = true;
        ping_pending_ = true;
        return;
    }
    if (loss_time_) {
        if (*loss_time_ <= now) detect_lost(now);
        return;
    }
    if (last_eliciting_sent_ + backed_off_rto() > now) return;
    if (!in_flight_.empty()) {
        on_retransmission_timeout();
    } else if (send_.blocked_by_peer()) {
        // The window update may have been lost: ask for a fresh ACK.
        ping_pending_ = true;
        persist_backoff_ = std::min(persist_backoff_ + 1, max_backoff);
    }
}

channel_stats reliable_channel::stats() const {
    auto s = stats_;
    s.srtt = rtt_.srtt();
    s.bytes_acked = send_.bytes_acked();
    s.congestion_window = cc_.window();
    return s;
}

} // namespace ovl::overlay::stream

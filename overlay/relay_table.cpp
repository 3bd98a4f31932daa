#include "overlay/relay_table.hpp"

#include "overlay/wire_tags.hpp"

#include <algorithm>

namespace ovl::overlay {

namespace {
constexpr std::size_t header = 9;
// Bursts of at least this many bytes pass, so one full-size frame always fits.
constexpr double min_burst_bytes = 64 * 1024;
} // namespace

namespace {
rate_limiter bandwidth_for(const relay_limits& limits) {
    return rate_limiter(limits.bytes_per_second, std::max(min_burst_bytes, limits.bytes_per_second), 1);
}
} // namespace

relay_table::relay_table(relay_limits limits) : limits_(limits), bandwidth_(bandwidth_for(limits)) {}

void relay_table::set_limits(const relay_limits& limits) {
    if (limits.bytes_per_second != limits_.bytes_per_second) bandwidth_ = bandwidth_for(limits);
    limits_ = limits;
    if (!limits_.enabled) sessions_.clear();
}

bool relay_table::budget_spent(timestamp now, std::size_t more) {
    if (!period_start_ || now - *period_start_ >= limits_.budget_period) {
        period_start_ = now;
        period_bytes_ = 0;
    }
    return limits_.bytes_per_month != 0 && period_bytes_ + more > limits_.bytes_per_month;
}

bytes relay_table::frame(const std::string& sid, bytes_view payload) {
    if (sid.size() != header - 1) return {};
    bytes out(header + payload.size());
    out[0] = tag::relay_first;
    std::copy(sid.begin(), sid.end(), out.begin() + 1);
    std::copy(payload.begin(), payload.end(), out.begin() + header);
    return out;
}

std::optional<std::string> relay_table::session_of(bytes_view f) {
    if (f.size() <= header || f[0] != tag::relay_first) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(f.data() + 1), 8);
}

relay_table::open_result relay_table::open(timestamp now, const std::string& sid, const endpoint& a, const endpoint& b) {
    if (!limits_.enabled) return open_result::disabled;
    // Asked again for a session it already carries (a requester repeats its request
    // while the handshake is pending): it is renewed, but keeps the bytes counted so far,
    // so repeating cannot reset the per-session cap.
    if (auto it = sessions_.find(sid); it != sessions_.end() && it->second.a == a && it->second.b == b) {
        it->second.last_active = now;
        return open_result::opened;
    }
    if (budget_spent(now, 1)) {
        ++stats_.sessions_refused;
        return open_result::budget_spent;
    }
    if (!sessions_.contains(sid) && sessions_.size() >= limits_.max_sessions) {
        expire(now);
        if (sessions_.size() >= limits_.max_sessions) {
            ++stats_.sessions_refused;
            return open_result::full;
        }
    }
    sessions_.insert_or_assign(sid, session{a, b, 0, now});
    ++stats_.sessions_opened;
    return open_result::opened;
}

std::optional<outgoing_datagram> relay_table::forward(timestamp now, const endpoint& from, bytes_view f) {
    auto sid = session_of(f);
    if (!sid) return std::nullopt;
    auto it = sessions_.find(*sid);
    if (it == sessions_.end() || (from != it->second.a && from != it->second.b)) {
        ++stats_.frames_dropped;
        return std::nullopt;
    }
    auto& s = it->second;
    // Over a cap: drop, and let the stream's congestion control back off.
    if (budget_spent(now, f.size())) {
        ++stats_.frames_dropped;
        ++stats_.frames_over_budget;
        return std::nullopt;
    }
    if (s.bytes + f.size() > limits_.bytes_per_session || !bandwidth_.allow(now, "", static_cast<double>(f.size()))) {
        ++stats_.frames_dropped;
        if (s.bytes + f.size() <= limits_.bytes_per_session) ++stats_.frames_over_rate;
        return std::nullopt;
    }
    period_bytes_ += f.size();
    s.bytes += f.size();
    s.last_active = now;
    ++stats_.frames_relayed;
    stats_.bytes_relayed += f.size();
    return outgoing_datagram{from == s.a ? s.b : s.a, bytes(f.begin(), f.end())};
}

void relay_table::expire(timestamp now) {
    std::erase_if(sessions_, [&](const auto& e) { return now - e.second.last_active >= limits_.idle_timeout; });
}

} // namespace ovl::overlay

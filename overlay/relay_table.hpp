// Relayed sessions an introducer carries for peers that cannot reach each other
// directly (both behind endpoint-dependent NATs, or punching failed). Frames are
// [tag 0x20][session id: 8][payload] and go only between the two endpoints of a
// session, both of which wrote to us first. The volunteer's caps bound sessions,
// bytes per second across all sessions, bytes per session and bytes per month.
#pragma once

#include "dht/base/datagram.hpp"
#include "overlay/rate_limiter.hpp"

#include <optional>
#include <string>
#include <unordered_map>

namespace ovl::overlay {

struct relay_limits {
    bool enabled = true;
    std::size_t max_sessions = 64;
    double bytes_per_second = 1'000'000;
    std::uint64_t bytes_per_session = 256ull << 20;
    // Budget per budget_period across all sessions (0: none). Once spent, frames are
    // dropped and new sessions refused until the period rolls over.
    std::uint64_t bytes_per_month = 0;
    duration budget_period = std::chrono::hours(24 * 30);
    duration idle_timeout = std::chrono::seconds(60);
};

struct relay_stats {
    std::uint64_t sessions_opened = 0;
    std::uint64_t sessions_refused = 0;
    std::uint64_t frames_relayed = 0;
    std::uint64_t bytes_relayed = 0;
    std::uint64_t frames_dropped = 0;
    // Of frames_dropped: over the bytes-per-second cap, and over the monthly budget.
    std::uint64_t frames_over_rate = 0;
    std::uint64_t frames_over_budget = 0;
};

class relay_table {
public:
    explicit relay_table(relay_limits limits);

    enum class open_result { opened, disabled, full, budget_spent };
    open_result open(timestamp now, const std::string& sid, const endpoint& a, const endpoint& b);
    // A relay frame arrived from `from`: the frame to forward, if it belongs to a session.
    std::optional<outgoing_datagram> forward(timestamp now, const endpoint& from, bytes_view frame);
    void expire(timestamp now);
    // New caps at run time: open sessions stay (even above a lowered max_sessions) and
    // bytes already counted this period still count; disabling ends every session.
    void set_limits(const relay_limits& limits);
    std::size_t sessions() const { return sessions_.size(); }
    // Bytes relayed in the current budget period.
    std::uint64_t period_bytes() const { return period_bytes_; }
    const relay_stats& stats() const { return stats_; }

    // Empty when `sid` is not 8 bytes.
    static bytes frame(const std::string& sid, bytes_view payload);
    static std::optional<std::string> session_of(bytes_view frame);

private:
    struct session {
        endpoint a;
        endpoint b;
        std::uint64_t bytes = 0;
        timestamp last_active;
    };

    bool budget_spent(timestamp now, std::size_t more);

    relay_limits limits_;
    std::unordered_map<std::string, session> sessions_;
    // One shared budget: the volunteer's bytes per second (one token per byte).
    rate_limiter bandwidth_;
    // The monthly budget: the period starts with the first session opened.
    std::optional<timestamp> period_start_;
    std::uint64_t period_bytes_ = 0;
    relay_stats stats_;
};

} // namespace ovl::overlay

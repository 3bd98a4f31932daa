// Relayed sessions an introducer carries for peers that cannot reach each other
// directly (both behind endpoint-dependent NATs, or punching failed). Frames are
// [tag 0x20][session id: 8][payload] and go only between the two endpoints of a
// session, both of which wrote to us first. The volunteer's caps bound sessions,
// bytes per second across all sessions, and bytes per session.
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
    duration idle_timeout = std::chrono::seconds(60);
};

struct relay_stats {
    std::uint64_t sessions_opened = 0;
    std::uint64_t sessions_refused = 0;
    std::uint64_t frames_relayed = 0;
    std::uint64_t bytes_relayed = 0;
    std::uint64_t frames_dropped = 0;
};

class relay_table {
public:
    explicit relay_table(relay_limits limits);

    enum class open_result { opened, disabled, full };
    open_result open(timestamp now, const std::string& sid, const endpoint& a, const endpoint& b);
    // A relay frame arrived from `from`: the frame to forward, if it belongs to a session.
    std::optional<outgoing_datagram> forward(timestamp now, const endpoint& from, bytes_view frame);
    void expire(timestamp now);
    std::size_t sessions() const { return sessions_.size(); }
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

    relay_limits limits_;
    std::unordered_map<std::string, session> sessions_;
    // One shared budget: the volunteer's bytes per second (one token per byte).
    rate_limiter bandwidth_;
    relay_stats stats_;
};

} // namespace ovl::overlay

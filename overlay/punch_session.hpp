// One UDP hole punch toward a peer: probes every candidate endpoint (its public
// endpoint as an introducer saw it, and its LAN endpoints) on a paced schedule until a
// probe or an acknowledgement carrying our session id comes back, then settles on the
// endpoint it came from. Both sides run one, so each side's probes open its own NAT
// for the other's.
#pragma once

#include "dht/base/datagram.hpp"

#include <optional>
#include <string>
#include <vector>

namespace ovl::overlay {

class punch_session {
public:
    enum class state { punching, succeeded, failed };

    punch_session(std::string session_id, std::vector<endpoint> candidates, timestamp now, duration interval,
                  duration timeout);

    // A probe or ack for our session arrived from `from`.
    void on_reply(timestamp now, const endpoint& from);
    void on_timeout(timestamp now);
    std::optional<outgoing_datagram> poll_transmit();
    std::optional<timestamp> next_deadline() const;

    state current() const { return state_; }
    const std::optional<endpoint>& path() const { return path_; }
    const std::string& session_id() const { return sid_; }
    const std::vector<endpoint>& candidates() const { return candidates_; }
    duration elapsed() const { return finished_ - started_; }
    int probes_sent() const { return probes_sent_; }

    static bytes probe(const std::string& sid);
    static bytes ack(const std::string& sid);
    // The session id of a probe or ack, if the datagram is one.
    static std::optional<std::string> session_of(bytes_view datagram);

private:
    void send_round();

    std::string sid_;
    std::vector<endpoint> candidates_;
    duration interval_;
    timestamp started_;
    timestamp deadline_;
    timestamp next_round_;
    timestamp finished_{};
    state state_ = state::punching;
    std::optional<endpoint> path_;
    std::vector<outgoing_datagram> outbox_;
    int probes_sent_ = 0;
};

} // namespace ovl::overlay

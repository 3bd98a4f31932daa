// One UDP hole punch toward a peer: probes every candidate endpoint (its public
// endpoint as an introducer saw it, and its LAN endpoints) on a paced schedule until a
// probe or an acknowledgement carrying our session id comes back, then settles on the
// endpoint (and local socket) it came from. Both sides run one, so each side's probes
// open its own NAT for the other's (the first round with a short TTL, so that it opens
// ours without reaching theirs too early). Where one side's NAT randomises ports, a
// birthday_probe runs beside the plain probes.
#pragma once

#include "dht/base/datagram.hpp"
#include "overlay/birthday_probe.hpp"

#include <optional>
#include <string>
#include <vector>

namespace ovl::overlay {

class punch_session {
public:
    enum class state { punching, succeeded, failed };

    // With an `opening_ttl`, the first round goes out with that TTL: it opens our own
    // NAT toward every candidate but dies in transit, so it cannot reach the peer's NAT
    // before the peer's own first packet has left (a router without an input filter
    // would keep state for it and move the peer's mapping). Full probes follow
    // `opening_lead` later, then every `interval`.
    punch_session(std::string session_id, std::vector<endpoint> candidates, timestamp now, duration interval,
                  duration timeout, std::uint8_t opening_ttl = 0, duration opening_lead = {});

    // Adds many-socket probing to this punch.
    void add_birthday(birthday_probe probe) { birthday_.emplace(std::move(probe)); }
    // Prefers IPv6 (RFC 8305): an IPv4 reply that comes while an IPv6 candidate is still
    // unanswered is held for up to `grace`, and an IPv6 reply within it wins instead.
    void prefer_ipv6(duration grace) { ipv6_grace_ = grace; }
    // A probe or ack for our session arrived from `from`, on local socket `socket`.
    void on_reply(timestamp now, const endpoint& from, std::uint16_t socket = 0);
    void on_timeout(timestamp now);
    std::optional<outgoing_datagram> poll_transmit();
    std::optional<timestamp> next_deadline() const;

    state current() const { return state_; }
    const std::optional<endpoint>& path() const { return path_; }
    // The local socket the path runs over (0: the core's own).
    std::uint16_t path_socket() const { return path_socket_; }
    const std::optional<birthday_probe>& birthday() const { return birthday_; }
    const std::string& session_id() const { return sid_; }
    const std::vector<endpoint>& candidates() const { return candidates_; }
    duration elapsed() const { return finished_ - started_; }
    int probes_sent() const { return probes_sent_ + (birthday_ ? birthday_->probes_sent() : 0); }

    static bytes probe(const std::string& sid);
    static bytes ack(const std::string& sid);
    // The session id of a probe or ack, if the datagram is one.
    static std::optional<std::string> session_of(bytes_view datagram);

private:
    void send_round(std::uint8_t ttl = 0);
    void settle(timestamp now, const endpoint& from, std::uint16_t socket);

    std::string sid_;
    std::vector<endpoint> candidates_;
    duration interval_;
    timestamp started_;
    timestamp deadline_;
    timestamp next_round_;
    timestamp finished_{};
    state state_ = state::punching;
    std::optional<endpoint> path_;
    std::uint16_t path_socket_ = 0;
    std::optional<birthday_probe> birthday_;
    duration ipv6_grace_{};
    // An IPv4 path held while IPv6 may still answer (prefer_ipv6), and until when.
    std::optional<std::pair<endpoint, std::uint16_t>> held_;
    timestamp held_until_{};
    std::vector<outgoing_datagram> outbox_;
    int probes_sent_ = 0;
};

} // namespace ovl::overlay

// The introducer role, served by nodes verified to be publicly reachable: holds
// firewalled peers' registrations (signed with their key, bound to their IP by a token)
// and relays introductions: the target is told first, over the mapping its keepalives
// hold open, then the requester gets the target's endpoints. It only ever sends to
// addresses that talked to it first, and is rate-limited per requester, /24 and target.
#pragma once

#include "dht/base/log.hpp"
#include "dht/node.hpp"
#include "dht/token_manager.hpp"
#include "overlay/introduction_request.hpp"
#include "overlay/overlay_config.hpp"
#include "overlay/rate_limiter.hpp"
#include "overlay/registration_table.hpp"
#include "overlay/relay_table.hpp"

#include <cstdint>
#include <functional>
#include <variant>

namespace ovl::overlay {

struct introducer_stats {
    std::uint64_t registrations_accepted = 0;
    std::uint64_t registrations_refused = 0;
    std::uint64_t introductions_ok = 0;
    std::uint64_t introductions_unknown_target = 0;
    std::uint64_t introductions_rate_limited = 0;
    std::uint64_t bad_signatures = 0;
    // Ed25519 verifications of registrations (a refresh that repeats a verified one needs none).
    std::uint64_t signature_checks = 0;
    // Registrations, introductions and relay requests refused because this node does
    // not serve as an introducer (not verified reachable, or disabled).
    std::uint64_t refused_not_serving = 0;
};

class introducer_service {
public:
    introducer_service(dht::node& dht, const introducer_limits& limits, const relay_limits& relay, duration registration_ttl,
                       random_source& rng, logger_ptr log, timestamp now, std::function<bool()> serving);

    void on_timeout(timestamp now);
    // New caps at run time (the operator's reload): registrations are kept, also above a
    // lowered max_registrations, until they expire; rate-limit buckets start afresh.
    void set_limits(const introducer_limits& limits, const relay_limits& relay);
    const introducer_limits& limits() const { return limits_; }
    const registration_table& registrations() const { return registrations_; }
    relay_table& relays() { return relays_; }
    const relay_table& relays() const { return relays_; }
    const introducer_stats& stats() const { return stats_; }

    // The byte string a registrant signs: binds the signature to this introducer and
    // to the IP-bound token, so it cannot be replayed elsewhere or from elsewhere, and
    // covers what the introducer hands to requesters (LAN endpoints, NAT class, port step).
    static bytes registration_message(const dht::node_id& introducer, const std::string& token,
                                      const bencode::dict& registration);

private:
    dht::query_reply on_register(timestamp now, const endpoint& from, const krpc::message& q);
    dht::query_reply on_introduce(timestamp now, const endpoint& from, const krpc::message& q);
    // The fast path: ovl_introduce from the flat parse. It declines (false) what would not
    // be introduced, before anything is counted or rate-limited, so that the general path
    // refuses it, or hands out a first token, exactly as before.
    bool on_introduce_flat(timestamp now, const endpoint& from, const bencode::flat_reader& query,
                           std::string_view tid);
    // Introduces a requester whose token was checked.
    dht::query_reply introduce(timestamp now, const endpoint& from, std::string_view tid,
                               const introduction_request& request);
    dht::query_reply on_relay(timestamp now, const endpoint& from, const krpc::message& q);
    // What introductions and relay requests share once the token is checked: rate limits
    // and the target's registration (or the reply that refuses the request).
    std::variant<const registration*, dht::query_reply> admit(timestamp now, const endpoint& from,
                                                            const introduction_request& request);
    void notify_target(const registration& reg, const endpoint& requester, const introduction_request& request,
                       bool relayed);
    bool serving() const { return limits_.enabled && serving_(); }
    // Tokens are bound to the sender's IP and to the DHT id of the key it speaks for.
    bool token_valid(timestamp now, const endpoint& from, const dht::node_id& key_id, std::optional<std::string_view> token);
    std::optional<dht::query_reply> check_serving_and_token(timestamp now, const endpoint& from, const public_key& key,
                                                            std::optional<std::string_view> token);
    krpc_sender sender() const;

    dht::node& dht_;
    introducer_limits limits_;
    duration ttl_;
    logger_ptr log_;
    std::function<bool()> serving_;
    dht::token_manager tokens_;
    registration_table registrations_;
    relay_table relays_;
    rate_limiter global_;
    rate_limiter per_requester_;
    rate_limiter per_subnet_;
    rate_limiter per_target_;
    std::vector<std::string_view> list_scratch_;
    introducer_stats stats_;
    timestamp next_expiry_;
};

// Helpers shared by both sides of the introduction protocol.
std::vector<endpoint> read_endpoint_list(const bencode::dict& d, const char* key, std::size_t max = 4);
bencode::list endpoint_list(const std::vector<endpoint>& eps);
std::optional<public_key> read_key(const bencode::dict& d, const char* key);
// A peer's IPv6 endpoint ("ep6": its address as it says, 18 compact bytes) beside the IPv4
// one the introducer observed. Only a global unicast address with a port is taken —
// never link-local, ULA, IPv4-mapped or multicast: a peer may not aim our probes at a
// link we share or at an IPv4 host in disguise. nullopt when absent or unusable.
std::optional<endpoint> read_ipv6_endpoint(const bencode::dict& d, const char* key = "ep6");

} // namespace ovl::overlay

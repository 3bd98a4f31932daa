// Reachability checks without a STUN server. A node asks a helper for a dial-back; the
// helper asks a third node, which has never heard from the requester, to send one
// small probe to the requester's address *as the helper saw it* — a requester can
// never name another address, so the service cannot be aimed at a victim. A probe
// that arrives proves unsolicited packets reach the requester.
#pragma once

#include "dht/base/datagram.hpp"
#include "dht/base/log.hpp"
#include "dht/node.hpp"
#include "overlay/rate_limiter.hpp"

#include <functional>

namespace ovl::overlay {

struct dial_back_stats {
    std::uint64_t requests_served = 0;
    std::uint64_t probes_sent = 0;
    std::uint64_t refused = 0;
};

class dial_back_service {
public:
    using raw_sender = std::function<void(outgoing_datagram datagram)>;

    dial_back_service(dht::node& dht, raw_sender send, logger_ptr log);
    const dial_back_stats& stats() const { return stats_; }

    static bytes probe_datagram(std::string_view nonce);

private:
    dht::query_reply on_dial_back(timestamp now, const endpoint& from, const krpc::message& q);
    dht::query_reply on_probe(timestamp now, const endpoint& from, const krpc::message& q);

    dht::node& dht_;
    raw_sender send_;
    logger_ptr log_;
    rate_limiter per_requester_;
    rate_limiter per_probe_target_;
    dial_back_stats stats_;
};

} // namespace ovl::overlay

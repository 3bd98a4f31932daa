// A plain TCP connect to a bootstrap node: when UDP gets no answers, this tells a
// network that blocks UDP from a bootstrap node that is down (overlay-node accepts TCP
// on its UDP port for exactly this).
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/time.hpp"

#include <string>

namespace ovl::cli {

// True when the TCP handshake completes within `timeout`; otherwise false with the
// reason in `why` (refused, timed out, ...).
bool tcp_reachable(const endpoint& to, duration timeout, std::string& why);

} // namespace ovl::cli

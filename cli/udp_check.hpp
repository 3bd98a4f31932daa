// Whether UDP gets through here at all: a KRPC ping to each bootstrap node, and any
// answer within the timeout says yes. `overlay connect` asks before it starts, so that on
// a network that blocks UDP it goes over TCP from the start instead of failing.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/time.hpp"

#include <vector>

namespace ovl::cli {

bool udp_answers(const std::vector<endpoint>& nodes, duration timeout);

} // namespace ovl::cli

// What overlay-node exposes to Prometheus: plain counters and gauges of the node's
// cores. No label ever carries an address, a peer id or a node id.
#pragma once

#include "overlay/overlay_node.hpp"

#include <string>

namespace ovl::cli {

// The metrics in Prometheus text exposition format (version 0.0.4).
std::string prometheus_text(const overlay::overlay_node& node);

} // namespace ovl::cli

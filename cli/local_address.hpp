// The address this host sends from toward a destination: what a socket bound to
// 0.0.0.0 really uses, and so what "no NAT" is judged against and what LAN peers can
// reach. Asks the kernel's routing table (a connected UDP socket sends nothing).
#pragma once

#include "dht/base/endpoint.hpp"

#include <optional>

namespace ovl::cli {

std::optional<ip_address> local_address_toward(const endpoint& destination);

} // namespace ovl::cli

// The address this host sends from toward a destination: what a socket bound to
// 0.0.0.0 really uses, and so what "no NAT" is judged against and what LAN peers can
// reach. Asks the kernel's routing table (a connected UDP socket sends nothing).
#pragma once

#include "dht/base/endpoint.hpp"

#include <optional>
#include <vector>

namespace ovl::cli {

std::optional<ip_address> local_address_toward(const endpoint& destination);
// The global IPv6 address the kernel would send from (RFC 6724 source selection, which
// prefers privacy addresses where the system is set to), asked toward each of `toward`'s
// IPv6 endpoints, then a well-known global address (2001:4860:4860::8888), then the
// documentation prefix (routed only in labs). nullopt when the host has no route or only
// link-local, ULA or other non-global addresses.
std::optional<ip_address> global_ipv6_source(const std::vector<endpoint>& toward);

} // namespace ovl::cli

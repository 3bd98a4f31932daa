// What a node has learned about its own NAT: how its mapping behaves (from addresses
// other nodes observed), whether unsolicited packets reach it (from dial-back probes),
// and the resulting verdict, each with how sure it is.
#pragma once

#include "dht/base/endpoint.hpp"

#include <optional>
#include <string>
#include <vector>

namespace ovl::overlay {

enum class mapping_behaviour {
    unknown,
    none,                  // observed address is our own: no NAT
    endpoint_independent,  // one public endpoint for every destination ("cone")
    endpoint_dependent,    // a new public endpoint per destination ("symmetric")
};

enum class port_behaviour { unknown, preserving, sequential, random };

enum class reachability { unknown, reachable, unreachable };

// IPv6 has no NAT to classify, but most hosts sit behind a stateful firewall (a home
// router's default IPv6 policy drops unsolicited inbound packets): what a peer needs to know
// is whether it has a global IPv6 address at all, and whether strangers' packets arrive.
// Without a conclusive dial-back round over IPv6 a host counts as firewalled, the
// assumption under which punching still works.
enum class ipv6_reachability { none, firewalled, open };

enum class nat_verdict {
    unknown,
    public_open,   // no NAT, unsolicited packets arrive
    firewalled,    // no NAT, but a stateful firewall drops unsolicited packets
    nat_open,      // NAT whose filtering lets unsolicited packets in (full cone)
    nat_cone,      // endpoint-independent mapping, filtered
    nat_symmetric, // endpoint-dependent mapping
    udp_blocked,   // no UDP answers at all
};

struct nat_profile {
    mapping_behaviour mapping = mapping_behaviour::unknown;
    port_behaviour ports = port_behaviour::unknown;
    // Sequential allocation: the step between consecutive mappings.
    int port_delta = 0;
    reachability reach = reachability::unknown;
    nat_verdict verdict = nat_verdict::unknown;
    // Distinct observers that agree with the mapping verdict, and dial-back evidence.
    int mapping_samples = 0;
    int dial_back_requests = 0;
    int dial_back_probes = 0;
    // 0..1: how sure the verdict is.
    double confidence = 0;
    std::optional<endpoint> public_endpoint;
    std::vector<endpoint> observed;
    ipv6_reachability ipv6 = ipv6_reachability::none;
    // The global IPv6 endpoint peers reach us at (see overlay_node::ipv6_endpoint).
    std::optional<endpoint> ipv6_endpoint;
};

const char* to_string(mapping_behaviour m);
const char* to_string(port_behaviour p);
const char* to_string(reachability r);
const char* to_string(nat_verdict v);
const char* to_string(ipv6_reachability r);
// True when a peer with this verdict can be reached by unsolicited packets.
bool accepts_unsolicited(nat_verdict v);

} // namespace ovl::overlay

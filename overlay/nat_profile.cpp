#include "overlay/nat_profile.hpp"

namespace ovl::overlay {

const char* to_string(mapping_behaviour m) {
    switch (m) {
    case mapping_behaviour::unknown: return "unknown";
    case mapping_behaviour::none: return "none";
    case mapping_behaviour::endpoint_independent: return "endpoint-independent";
    case mapping_behaviour::endpoint_dependent: return "endpoint-dependent";
    }
    return "unknown";
}

const char* to_string(port_behaviour p) {
    switch (p) {
    case port_behaviour::unknown: return "unknown";
    case port_behaviour::preserving: return "preserving";
    case port_behaviour::sequential: return "sequential";
    case port_behaviour::random: return "random";
    }
    return "unknown";
}

const char* to_string(reachability r) {
    switch (r) {
    case reachability::unknown: return "unknown";
    case reachability::reachable: return "reachable";
    case reachability::unreachable: return "unreachable";
    }
    return "unknown";
}

const char* to_string(nat_verdict v) {
    switch (v) {
    case nat_verdict::unknown: return "unknown";
    case nat_verdict::public_open: return "public";
    case nat_verdict::firewalled: return "firewalled";
    case nat_verdict::nat_open: return "nat-open";
    case nat_verdict::nat_cone: return "nat-cone";
    case nat_verdict::nat_symmetric: return "nat-symmetric";
    case nat_verdict::udp_blocked: return "udp-blocked";
    }
    return "unknown";
}

const char* to_string(ipv6_reachability r) {
    switch (r) {
    case ipv6_reachability::none: return "none";
    case ipv6_reachability::firewalled: return "firewalled";
    case ipv6_reachability::open: return "open";
    }
    return "none";
}

bool accepts_unsolicited(nat_verdict v) { return v == nat_verdict::public_open || v == nat_verdict::nat_open; }

} // namespace ovl::overlay

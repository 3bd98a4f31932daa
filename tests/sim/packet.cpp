#include "sim/packet.hpp"

namespace ovl::sim {

std::string_view to_string(drop_reason r) {
    switch (r) {
    case drop_reason::loss: return "loss";
    case drop_reason::no_route: return "no-route";
    case drop_reason::no_mapping: return "no-mapping";
    case drop_reason::nat_filtered: return "nat-filtered";
    case drop_reason::hairpin_disabled: return "hairpin-disabled";
    case drop_reason::udp_blocked: return "udp-blocked";
    case drop_reason::no_listener: return "no-listener";
    case drop_reason::host_dead: return "host-dead";
    case drop_reason::ttl_expired: return "ttl-expired";
    case drop_reason::count_: break;
    }
    return "?";
}

std::string_view to_string(protocol p) { return p == protocol::udp ? "udp" : "tcp"; }

} // namespace ovl::sim
